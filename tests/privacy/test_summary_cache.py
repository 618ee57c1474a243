"""The privacy summary kept between requests: never served after a change, nor after a due date passed.

The scenario lives in June 2013 (the clock is set back), where no other test writes. A
summary judged earlier is served while it is the truth, with the ``as_of`` it was judged
at; a consent change, a data request, and the passing of an open request's due date each
make the next request judge it anew.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import msgspec

from governance.bootstrap import Services
from governance.core import cache, db
from governance.core.clock import ManualClock
from governance.privacy import summary
from governance.privacy.tables import DataRequest

from .conftest import SHARE, Privacy, new_mentee

PERIOD = {"period_start": "2013-06-01", "period_end": "2013-06-30"}


async def _figures(client: httpx.AsyncClient, privacy: Privacy) -> dict[str, Any]:
    response = await client.get("/api/v1/privacy/summary", params=PERIOD, headers=privacy.officer())
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_change_shows_on_the_next_request_and_a_kept_summary_says_when_it_was_judged(
    privacy: Privacy, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    clock.set(datetime(2013, 6, 3, 10, tzinfo=UTC))
    first = await _figures(client, privacy)
    assert first["data_requests_received"] == 0 and first["consent_changes_by_method"]["explicit"] == 0
    assert datetime.fromisoformat(first["as_of"]) == clock.now()

    clock.advance(timedelta(minutes=1))
    kept = await _figures(client, privacy)  # judged a minute ago, and saying so (see the complaints' test)
    assert {**kept, "as_of": None} == {**first, "as_of": None}
    judged = first["as_of"] if db.is_sqlite() or cache.listening() else clock.now().isoformat()
    assert datetime.fromisoformat(kept["as_of"]) == datetime.fromisoformat(judged)

    mentee = new_mentee()
    await privacy.choose(mentee, **{SHARE: "opt_in"})
    chosen = await _figures(client, privacy)
    assert chosen["consent_changes_by_method"]["explicit"] == 1
    assert datetime.fromisoformat(chosen["as_of"]) == clock.now()

    request = await privacy.file(mentee, "access")
    filed = await _figures(client, privacy)
    assert filed["data_requests_received"] == 1 and filed["data_requests_by_type"]["access"] == 1

    # Behind the services' back (a repair by hand): counted too.
    await DataRequest.update({DataRequest.request_type: "objection"}).where(DataRequest.id == request["id"])
    repaired = await _figures(client, privacy)
    assert repaired["data_requests_by_type"] == {**filed["data_requests_by_type"], "access": 0, "objection": 1}


async def test_a_due_date_passing_judges_the_summary_anew(
    privacy: Privacy, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    clock.set(datetime(2013, 6, 20, 10, tzinfo=UTC))
    request = await privacy.file(new_mentee(), "portability")
    before = await _figures(client, privacy)
    assert before["data_requests_open_overdue"] == 0
    clock.set(datetime.fromisoformat(request["due_at"]) + timedelta(seconds=1))
    after = await _figures(client, privacy)
    assert datetime.fromisoformat(after["as_of"]) == clock.now()
    assert after["data_requests_open_overdue"] > before["data_requests_open_overdue"]
    fresh = await summary.period_summary(date(2013, 6, 1), date(2013, 6, 30), clock.now())
    assert after == msgspec.json.decode(msgspec.json.encode(fresh))


async def test_the_requests_due_follow_a_new_request_and_the_days_passing(
    privacy: Privacy, client: httpx.AsyncClient, clock: ManualClock, services: Services
) -> None:
    kept = services.privacy.summaries
    clock.set(datetime(2013, 6, 24, 10, tzinfo=UTC))
    before = await summary.kept_requests_due(kept, clock.now())
    assert before == await summary.requests_due(clock.now())
    request = await privacy.file(new_mentee(), "access")
    filed = await summary.kept_requests_due(kept, clock.now())
    assert filed.open == before.open + 1 and filed.as_of == clock.now()
    due = datetime.fromisoformat(request["due_at"])
    # A week before it falls due, then after: the same counts a fresh count gives.
    for instant in (due - timedelta(days=7) + timedelta(seconds=1), due + timedelta(seconds=1)):
        clock.set(instant)
        assert await summary.kept_requests_due(kept, clock.now()) == await summary.requests_due(clock.now())
