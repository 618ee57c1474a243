"""The Idempotency-Key and If-Match kernels on their own."""

from __future__ import annotations

import pytest

from governance.core import idempotency
from governance.core.errors import Problem
from governance.core.tables import IdempotencyKey
from governance.core.versioning import check_version, etag, expected_version
from governance.settings import Settings


def test_etags_round_trip_and_bad_ones_are_named() -> None:
    assert expected_version(etag(7)) == 7
    assert expected_version('W/"7"') == 7
    with pytest.raises(Problem) as missing:
        expected_version(None)
    assert missing.value.status_code == 428
    for bad in ("*", '"1", "2"', "7", '"x"'):
        with pytest.raises(Problem) as raised:
            expected_version(bad)
        assert raised.value.status_code == 400
    with pytest.raises(Problem) as stale:
        check_version(3, 2)
    assert stale.value.status_code == 412
    check_version(3, 3)


def test_fingerprints_ignore_key_order_but_not_values() -> None:
    assert idempotency.fingerprint({"a": 1, "b": [1, 2]}) == idempotency.fingerprint({"b": [1, 2], "a": 1})
    assert idempotency.fingerprint({"a": 1}) != idempotency.fingerprint({"a": 2})


@pytest.mark.parametrize("key", ["", "has space", "x" * 201, "é"])
def test_malformed_keys_are_refused(key: str) -> None:
    with pytest.raises(Problem) as raised:
        idempotency.key_from(key)
    assert raised.value.status_code == 400


async def test_failed_work_releases_the_key(database: Settings) -> None:
    async def fails() -> tuple[int, dict[str, int]]:
        raise Problem(409, "conflict", "not now")

    async def works() -> tuple[int, dict[str, int]]:
        return 201, {"n": 1}

    args = {"scope": "test.op", "actor": "a-1", "key": "k-release", "fingerprint": "f"}
    with pytest.raises(Problem):
        await idempotency.once(**args, work=fails)
    assert await IdempotencyKey.count().where(IdempotencyKey.idempotency_key == "k-release") == 0
    first = await idempotency.once(**args, work=works)
    replay = await idempotency.once(**args, work=fails)
    assert (first.status, first.body, first.replayed) == (201, b'{"n":1}', False)
    assert (replay.status, replay.body, replay.replayed) == (201, b'{"n":1}', True)
