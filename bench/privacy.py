"""Privacy benchmark: the permission check through the whole application next to a bare
route, and the time to erase one mentee who has 10,000 records.

Run from the repository root::

    .venv/bin/python bench/privacy.py                  # SQLite, then PostgreSQL when reachable
    .venv/bin/python bench/privacy.py --only postgres --mentees 2000 --requests 4000

Each backend's child process loads ``--mentees`` mentees (1,000 by default), each with a
consent history of a few changes per purpose, straight into the tables. Then it drives
the real application (``application(bootstrap.build(settings))``) in process through ASGI (no network, no HTTP
client), so only the application's own cost is measured:

- ``permission``: ``GET /api/v1/privacy/mentees/{id}/permissions?purpose=...`` with the
  platform's bearer token: JWT check, Casbin guard, the latest-record lookup, the
  decision, JSON encoding, the logging, metrics and body-limit middleware. Mentees and
  purposes are taken in a shuffled order.
- ``bare``: ``GET /bench/bare``, an unauthenticated handler returning a small JSON
  object, registered on the same application (same middleware), in the same run.

Both are measured in short interleaved rounds, ``--repeats`` x 4 pairs; ``ratio`` is the
median over the pairs of permission / bare (the target is >= 50%). The check answers
from the process's consent cache, kept honest as in production (PostgreSQL: change
notices; SQLite: ``data_version``, then a version lookup after any commit).

``erase``: a mentee with ``--records`` records (10,000 by default: consent records and
data requests with encrypted descriptions, all privacy data) is erased through the
service, exactly as completing an erasure request does: legal holds, key shredding,
every module's erasure hook, the consent withdrawals, the certificate and the audit
entry, in one transaction. The audit log is verified afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import random
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import backend_arguments, median, out, paired_rounds, rate, run_backends, seconds, verdict
from vetting import asgi_get, requests_per_second

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/governance_bench_privacy"
CONCURRENCY = (1, 16)
CHANGES_PER_PURPOSE = 3
SEED_BATCH = 100
# Paired measurement rounds per repeat.
ROUNDS = 4


def consent_row(subject: str, purpose: Any, n: int, seq: int, now: datetime) -> Any:
    from governance.privacy.tables import ConsentRecord

    recorded = now - timedelta(days=30 * (CHANGES_PER_PURPOSE - n))
    return ConsentRecord(
        id=uuid.uuid4(),
        subject=subject,
        purpose=purpose.name,
        state="opt_in" if (n + seq) % 2 else "opt_out",
        method="explicit",
        notice_version=purpose.current_notice.version,
        language="en",
        jurisdiction="GB",
        source="bench",
        actor=subject,
        recorded_at=recorded,
        expires_at=purpose.validity.add_to(recorded),
        receipt_id=None,
        recorded_seq=seq,
    )


async def seed_mentees(privacy: Any, mentees: int) -> list[str]:
    """Mentees with a consent history for every purpose, inserted in bulk."""
    from governance.core import db
    from governance.privacy.tables import ConsentRecord

    purposes = list(privacy.policy.purposes.values())
    now = datetime.now(UTC)
    ids = [f"bench-mentee-{n}" for n in range(mentees)]
    seq = 0
    for start in range(0, mentees, SEED_BATCH):
        rows = []
        for subject in ids[start : start + SEED_BATCH]:
            for n in range(CHANGES_PER_PURPOSE):
                seq += 1
                rows.extend(consent_row(subject, purpose, n, seq, now) for purpose in purposes)
        async with db.transaction():
            await ConsentRecord.insert(*rows)
    return ids


async def seed_heavy(privacy: Any, subject: str, records: int) -> uuid.UUID:
    """One mentee with ``records`` records, and an erasure request in progress about them."""
    from governance.core import db
    from governance.privacy.tables import ConsentRecord, DataRequest

    purposes = list(privacy.policy.purposes.values())
    now = datetime.now(UTC)
    cipher = await privacy.keyring.cipher(subject, create=True)
    requests = 50
    consent_rows = [
        consent_row(subject, purposes[n % len(purposes)], n % CHANGES_PER_PURPOSE, n + 1, now)
        for n in range(records - requests)
    ]
    request_rows = [
        DataRequest(
            id=uuid.uuid4(),
            subject=subject,
            request_type="access",
            state="completed",
            description=cipher.encrypt(f"request {n}: please send me my data"),
            filed_by=subject,
            received_at=now - timedelta(days=40),
            due_at=now - timedelta(days=10),
            closed_at=now - timedelta(days=12),
            version=3,
            last_seq=0,
        )
        for n in range(requests - 1)
    ]
    erasure_id = uuid.uuid4()
    request_rows.append(
        DataRequest(
            id=erasure_id,
            subject=subject,
            request_type="erasure",
            state="in_progress",
            description=cipher.encrypt("erase everything"),
            filed_by=subject,
            received_at=now,
            due_at=now + timedelta(days=30),
            version=2,
            last_seq=0,
        )
    )
    async with db.transaction():
        for start in range(0, len(consent_rows), 1000):
            await ConsentRecord.insert(*consent_rows[start : start + 1000])
        await DataRequest.insert(*request_rows)
    return erasure_id


async def child_main(backend: str, repeats: int, mentees: int, requests: int, records: int) -> None:
    from litestar import get

    from governance import bootstrap
    from governance.app import application
    from governance.audit import service as audit
    from governance.cli import run_migrations
    from governance.core import cache, db
    from governance.core.identity import SYSTEM, issue_token
    from governance.privacy import consent
    from governance.privacy import requests as data_requests
    from governance.privacy.schemas import RequestTransition
    from governance.privacy.service import register_notices
    from governance.privacy.tables import ConsentRecord
    from governance.settings import Settings

    def line(text: str) -> None:
        out(f"{backend:<9} {text}")

    settings = Settings.from_env()
    with contextlib.redirect_stdout(io.StringIO()):  # Piccolo prints its migration progress
        await run_migrations(settings)
    await db.start(settings)
    try:
        services = bootstrap.build(settings)
        app = application(services)
        privacy = services.privacy
        if settings.is_postgres:
            # What the application's lifespan does: listen for changes, so that cached
            # consent is served without a lookup while notices arrive.
            await cache.start_listening(settings.effective_database_url)
            for _ in range(200):
                if cache.listening():
                    break
                await asyncio.sleep(0.05)
        await register_notices(privacy, datetime.now(UTC))

        @get("/bench/bare", exclude_from_auth=True, sync_to_thread=False)
        def bare() -> dict[str, str]:
            return {"status": "ok", "service": "governance"}

        app.register(bare)
        started = time.perf_counter()
        ids = await seed_mentees(privacy, mentees)
        total = await ConsentRecord.count()
        line(f"seeded     {len(ids):,} mentees, {total:,} consent records in {time.perf_counter() - started:.1f}s")

        token = issue_token(settings, "platform-bench", ["platform"], timedelta(hours=2))
        auth = [(b"authorization", f"Bearer {token}".encode())]
        order = random.Random(7)
        names = list(privacy.policy.purposes)
        picks = [(ids[order.randrange(len(ids))], names[order.randrange(len(names))]) for _ in range(requests)]
        calls = [asgi_get(app, f"/api/v1/privacy/mentees/{m}/permissions?purpose={p}", auth) for m, p in picks]
        bare_calls = [asgi_get(app, "/bench/bare", []) for _ in range(requests)]

        status, body = await calls[0]()
        sample = json.loads(body)
        if status != 200 or sample["record_id"] is None:
            raise RuntimeError(f"the permission check is not what was seeded: {status} {body[:300]!r}")
        expected = await consent.permission(privacy, picks[0][0], picks[0][1], datetime.now(UTC))
        if sample["allowed"] != expected.allowed or sample["record_id"] != str(expected.record_id):
            raise RuntimeError("the API and the service disagree on the permission")
        line(f"check      {len(body)} bytes: {body.decode()}")
        # Warm-up: every check asked once (the cache then holds what production would).
        await requests_per_second(calls, 1)
        await requests_per_second(bare_calls[:500], 1)

        for concurrency in CONCURRENCY:

            async def pair(start: int, count: int, concurrency: int = concurrency) -> tuple[float, float]:
                baseline = await requests_per_second(bare_calls[start : start + count], concurrency)
                return await requests_per_second(calls[start : start + count], concurrency), baseline

            full, baseline, ratios = await paired_rounds(pair, requests, repeats * ROUNDS)
            percent = median(ratios)
            line(
                f"checks   concurrency={concurrency:<3} permission {rate(full)}  bare {rate(baseline)}  "
                f"ratio {percent:5.1f}%  {verdict(percent)}"
            )
            line(
                f"  spread   {len(ratios)} paired rounds; ratio per round "
                f"min {ratios[0]:.1f}%, median {percent:.1f}%, max {ratios[-1]:.1f}%"
            )

        # For scale: the lightest authenticated route (token and policy check, no work).
        me_calls = [asgi_get(app, "/api/v1/me", auth) for _ in range(requests)]

        async def me_pair(start: int, count: int) -> tuple[float, float]:
            baseline = await requests_per_second(bare_calls[start : start + count], 1)
            return await requests_per_second(me_calls[start : start + count], 1), baseline

        _, _, me_ratios = await paired_rounds(me_pair, requests, repeats * ROUNDS)
        line(f"  breakdown  GET /api/v1/me / bare (token + policy, no work)  {median(me_ratios):5.1f}%")
        started = time.perf_counter()
        for mentee, purpose in picks[:2000]:
            await consent.permission(privacy, mentee, purpose, datetime.now(UTC))
        alone = min(len(picks), 2000) / (time.perf_counter() - started)
        line(f"  breakdown  service check alone (no HTTP)  {rate(alone)}")

        times = []
        certificate: dict[str, Any] = {}
        for n in range(repeats):
            subject = f"bench-heavy-{n}"
            request_id = await seed_heavy(privacy, subject, records)
            started = time.perf_counter()
            done = await data_requests.transition(
                privacy, request_id, RequestTransition(to="completed"), SYSTEM, False, datetime.now(UTC), 2
            )
            times.append(time.perf_counter() - started)
            certificate = done.certificate or {}
            if not certificate.get("key_shredded"):
                raise RuntimeError(f"the erasure did not shred the key: {certificate}")
        kept = sum(k["count"] for k in certificate["kept"])
        line(
            f"erase      one mentee with {records:,} records  {seconds(median(times))}  "
            f"(runs {'/'.join(f'{t:.3f}' for t in times)}; kept {kept:,} records, "
            f"{sum(e['count'] for e in certificate['erased']):,} personal fields shredded)"
        )
        verified = await audit.verify(services.log_key)
        line(
            f"verify     audit log after the erasures: {'OK' if verified.ok else 'FAILED'} ({verified.size:,} entries)"
        )
        if not verified.ok:
            raise RuntimeError(f"the audit log does not verify after the erasures: {verified.problems}")
    finally:
        await cache.stop_listening()
        await db.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    backend_arguments(parser)
    parser.add_argument("--mentees", type=int, default=1000, help="mentees loaded")
    parser.add_argument("--requests", type=int, default=4000, help="requests per measurement")
    parser.add_argument("--records", type=int, default=10_000, help="records of the mentee erased")
    args = parser.parse_args(argv)
    if args.backend:
        asyncio.run(child_main(args.backend, args.repeats, args.mentees, args.requests, args.records))
        return 0
    return run_backends(
        Path(__file__).resolve(),
        args,
        title="privacy benchmark: permission checks through the full stack; erasure of one mentee",
        default_pg_url=DEFAULT_PG_URL,
        method=[
            f"{args.mentees:,} mentees loaded; {args.requests:,} requests per measurement, in process through ASGI",
            f"permission and bare in {args.repeats * ROUNDS} interleaved pairs of rounds; figures are MEDIANS",
            f"erase: one mentee with {args.records:,} records, through the service, {args.repeats} runs",
        ],
        child_args=[
            f"--repeats={args.repeats}",
            f"--mentees={args.mentees}",
            f"--requests={args.requests}",
            f"--records={args.records}",
        ],
        env_extra={
            "GOVERNANCE_VETTING_EXPIRY_INTERVAL": "0",
            "GOVERNANCE_CONSENT_EXPIRY_INTERVAL": "0",
            "GOVERNANCE_RETENTION_SWEEP_INTERVAL": "0",
            "GOVERNANCE_LOG_LEVEL": "WARNING",
        },
    )


if __name__ == "__main__":
    sys.exit(main())
