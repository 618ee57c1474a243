"""Vetting benchmark: dossier reads through the whole application, next to a bare route.

Run from the repository root::

    .venv/bin/python bench/vetting.py                  # SQLite, then PostgreSQL when reachable
    .venv/bin/python bench/vetting.py --only postgres --mentors 1000 --requests 4000

Each backend's child process loads ``--mentors`` mentors (1,000 by default), each with
every check their requirements name (passed, with encrypted details), documents, an
approval decision and ratings, straight into the tables. Then it drives the real
application (``application(bootstrap.build(settings))``) in process through ASGI, without a network or an HTTP
client in between, so that only the application's own cost is measured:

- ``dossier``: ``GET /api/v1/mentors/{id}/dossier`` with a compliance officer's bearer
  token: JWT check, Casbin guard, the dossier (cached and kept fresh as in production:
  on SQLite by its commit counter, on PostgreSQL by change notices), JSON encoding,
  the request logging, metrics and body-limit middleware.
  Mentors are taken in a shuffled order, so every one of them is read.
- ``bare``: ``GET /bench/bare``, an unauthenticated handler returning a small JSON
  object, registered on the same application (same middleware), in the same run.

Both are measured in short interleaved rounds, ``--repeats`` x 4 pairs; ``ratio`` is the
median over the pairs of dossier / bare (the target is >= 50%), so that load from
elsewhere on the machine cannot favour one side. The breakdown lines show the cost of a
dossier rendered without the cache, and of the version lookup alone.
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
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import backend_arguments, median, out, paired_rounds, rate, run_backends, verdict

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/governance_bench_vetting"
CONCURRENCY = (1, 16)
RATINGS_PER_MENTOR = 12
SEED_BATCH = 50
# Paired measurement rounds per repeat.
ROUNDS = 4


# --- a bare ASGI client -----------------------------------------------------------------


def asgi_get(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> Callable[[], Awaitable[tuple[int, bytes]]]:
    """A zero-overhead GET: the ASGI scope, one empty body, the answer collected (``path`` may carry ``?query``)."""
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def call() -> tuple[int, bytes]:
        status = 0
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(dict(scope), receive, send)
        return status, b"".join(chunks)

    return call


async def requests_per_second(calls: Sequence[Callable[[], Awaitable[tuple[int, bytes]]]], concurrency: int) -> float:
    """Run every call once, spread over ``concurrency`` tasks; every answer must be 200."""
    queue = list(calls)

    async def worker(offset: int) -> None:
        for call in queue[offset::concurrency]:
            status, body = await call()
            if status != 200:
                raise RuntimeError(f"answer {status}: {body[:300]!r}")

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return len(queue) / (time.perf_counter() - start)


# --- seeding ------------------------------------------------------------------------------


async def seed(vetting: Any, mentors: int) -> list[uuid.UUID]:
    """Mentors with everything a vetted dossier holds, inserted in bulk."""
    from governance.core import db
    from governance.vetting.tables import Check, Decision, Document, Mentor, Rating

    requirements = vetting.requirements
    now = datetime.now(UTC)
    ids: list[uuid.UUID] = []
    details = {
        "method": "document and video check",
        "level": "enhanced",
        "certificate_number": "001234567890",
        "issuing_body": "DBS",
        "credential": "ICF PCC",
        "referee_relationship": "former manager",
        "interviewer": "officer-a",
        "code_version": "2026.1",
        "course": "Safeguarding",
        "provider": "NSPCC",
    }
    encoded_details = json.dumps(details)
    seq = 0
    for start in range(0, mentors, SEED_BATCH):
        rows: dict[str, list[Any]] = {"mentor": [], "check": [], "document": [], "decision": [], "rating": []}
        for n in range(start, min(start + SEED_BATCH, mentors)):
            mentor_id = uuid.uuid4()
            ids.append(mentor_id)
            cipher = await vetting.keyring.cipher(str(mentor_id), create=True)
            jurisdiction, engagement = (("GB", "contractor"), ("FR", "volunteer"), ("DE", "employee"))[n % 3]
            registered = now - timedelta(days=200 + n % 100)
            seq += 1
            rows["mentor"].append(
                Mentor(
                    id=mentor_id,
                    external_id=f"bench-{n:06d}",
                    display_name=cipher.encrypt(f"Mentor {n}"),
                    email=cipher.encrypt(f"mentor{n}@example.org"),
                    jurisdiction=jurisdiction,
                    specialties='["interview practice","career change"]',
                    engagement_type=engagement,
                    standing="approved",
                    status="approved",
                    status_since=registered + timedelta(days=20),
                    registered_at=registered,
                    registered_by="platform",
                    first_approved_at=registered + timedelta(days=20),
                    version=1,
                    registered_seq=seq,
                )
            )
            for requirement in requirements.for_mentor(jurisdiction, engagement):
                for _ in range(requirement.count):
                    check_id = uuid.uuid4()
                    seq += 1
                    valid_from = registered + timedelta(days=10)
                    rows["check"].append(
                        Check(
                            id=check_id,
                            mentor=mentor_id,
                            check_type=requirement.check.name,
                            state="passed",
                            requirements_version=requirements.version,
                            details=cipher.encrypt(encoded_details),
                            notes=cipher.encrypt("internal note"),
                            recorded_by="officer-a",
                            recorded_at=registered,
                            reviewed_by="officer-b",
                            reviewed_at=valid_from,
                            valid_from=valid_from,
                            expires_at=requirement.effective_validity.add_to(valid_from),
                            state_since=valid_from,
                            recorded_seq=seq,
                            last_seq=seq,
                        )
                    )
                    for d in range(requirement.check.documents):
                        digest = uuid.uuid4().hex * 2
                        rows["document"].append(
                            Document(
                                id=uuid.uuid4(),
                                check=check_id,
                                mentor=mentor_id,
                                object_key=f"vetting/documents/{mentor_id}/{digest}",
                                sha256=digest,
                                size=120_000 + d,
                                media_type="application/pdf",
                                filename=cipher.encrypt(f"{requirement.check.name}.pdf"),
                                uploaded_by="officer-a",
                                uploaded_at=registered,
                                uploaded_seq=seq,
                            )
                        )
            seq += 2
            rows["decision"].append(
                Decision(
                    id=uuid.uuid4(),
                    mentor=mentor_id,
                    action="approve",
                    rationale=cipher.encrypt("every check passed"),
                    state="confirmed",
                    requirements_version=requirements.version,
                    proposed_by="officer-a",
                    proposed_at=registered + timedelta(days=19),
                    proposed_seq=seq - 1,
                    confirmed_by="officer-b",
                    confirmed_at=registered + timedelta(days=20),
                    confirmed_seq=seq,
                )
            )
            for r in range(RATINGS_PER_MENTOR):
                seq += 1
                rows["rating"].append(
                    Rating(
                        id=uuid.uuid4(),
                        mentor=mentor_id,
                        session_id=f"session-{n}-{r}",
                        mentee_id=f"mentee-{(n * 7 + r) % 5000}",
                        score=3 + (n + r) % 3,
                        session_at=now - timedelta(days=1 + r * 20),
                        recorded_at=now - timedelta(days=r * 20),
                        recorded_seq=seq,
                    )
                )
        async with db.transaction():
            for table, name in ((Mentor, "mentor"), (Check, "check"), (Document, "document"), (Decision, "decision")):
                await table.insert(*rows[name])
            await Rating.insert(*rows["rating"])
    return ids


# --- the child ------------------------------------------------------------------------------


async def child_main(backend: str, repeats: int, mentors: int, requests: int) -> None:
    from litestar import get

    from governance import bootstrap
    from governance.app import application
    from governance.cli import run_migrations
    from governance.core import cache, db
    from governance.core.identity import issue_token
    from governance.settings import Settings
    from governance.vetting import dossier

    def line(text: str) -> None:
        out(f"{backend:<9} {text}")

    settings = Settings.from_env()
    with contextlib.redirect_stdout(io.StringIO()):  # Piccolo prints its migration progress
        await run_migrations(settings)
    await db.start(settings)
    try:
        services = bootstrap.build(settings)
        app = application(services)
        if settings.is_postgres:
            # What the application's lifespan does: listen for changes, so that cached
            # dossiers are served without a lookup while notices arrive.
            await cache.start_listening(settings.effective_database_url)
            for _ in range(200):
                if cache.listening():
                    break
                await asyncio.sleep(0.05)

        @get("/bench/bare", exclude_from_auth=True, sync_to_thread=False)
        def bare() -> dict[str, str]:
            return {"status": "ok", "service": "governance"}

        app.register(bare)
        started = time.perf_counter()
        ids = await seed(services.vetting, mentors)
        line(f"seeded     {len(ids):,} mentors in {time.perf_counter() - started:.1f}s")

        token = issue_token(settings, "officer-bench", ["compliance_officer"], timedelta(hours=2))
        auth = [(b"authorization", f"Bearer {token}".encode())]
        order = random.Random(7)
        # Every mentor as often as the others, in a shuffled order.
        picks = (ids * -(-requests // len(ids)))[:requests]
        order.shuffle(picks)
        dossier_calls = [asgi_get(app, f"/api/v1/mentors/{i}/dossier", auth) for i in picks]
        bare_calls = [asgi_get(app, "/bench/bare", []) for _ in range(requests)]

        status, body = await dossier_calls[0]()
        sample = json.loads(body)
        if status != 200 or not sample["checks"] or sample["mentor"]["status"] != "approved":
            raise RuntimeError(f"the dossier is not what was seeded: {status} {body[:300]!r}")
        line(
            f"dossier    {len(body):,} bytes: {len(sample['checks'])} checks, "
            f"{sum(len(c['documents']) for c in sample['checks'])} documents, rating {sample['rating']['rating']}"
        )
        # Warm-up: every mentor's dossier rendered once (as after a while in production).
        for mentor_id in ids:
            await asgi_get(app, f"/api/v1/mentors/{mentor_id}/dossier", auth)()
        await requests_per_second(bare_calls[:500], 1)

        for concurrency in CONCURRENCY:

            async def pair(start: int, count: int, concurrency: int = concurrency) -> tuple[float, float]:
                baseline = await requests_per_second(bare_calls[start : start + count], concurrency)
                return await requests_per_second(dossier_calls[start : start + count], concurrency), baseline

            full, baseline, ratios = await paired_rounds(pair, requests, repeats * ROUNDS)
            percent = median(ratios)
            line(
                f"reads    concurrency={concurrency:<3} dossier {rate(full)}  bare {rate(baseline)}  "
                f"ratio {percent:5.1f}%  {verdict(percent)}"
            )
            line(
                f"  spread   {len(ratios)} paired rounds of {requests // 4:,} requests each; ratio per round "
                f"min {ratios[0]:.1f}%, median {percent:.1f}%, max {ratios[-1]:.1f}%"
            )

        dossiers = services.dossier_cache
        uncached = []
        for mentor_id in ids[: min(len(ids), 300)]:
            dossiers.forget(mentor_id)
            uncached.append(asgi_get(app, f"/api/v1/mentors/{mentor_id}/dossier", auth))
        line(f"  breakdown  dossier rendered without the cache  {rate(await requests_per_second(uncached, 1))}")
        started = time.perf_counter()
        for mentor_id in picks[:2000]:
            await dossier.current_version(mentor_id)
        lookups = min(len(picks), 2000) / (time.perf_counter() - started)
        line(f"  breakdown  version lookup alone                 {rate(lookups)}")
    finally:
        await cache.stop_listening()
        await db.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    backend_arguments(parser)
    parser.add_argument("--mentors", type=int, default=1000, help="mentors loaded")
    parser.add_argument("--requests", type=int, default=4000, help="requests per measurement")
    args = parser.parse_args(argv)
    if args.backend:
        asyncio.run(child_main(args.backend, args.repeats, args.mentors, args.requests))
        return 0
    return run_backends(
        Path(__file__).resolve(),
        args,
        title="vetting benchmark: dossier reads through the full stack",
        default_pg_url=DEFAULT_PG_URL,
        method=[
            f"{args.mentors:,} mentors loaded; {args.requests:,} requests per measurement, in process through ASGI",
            f"dossier and bare in {args.repeats * ROUNDS} interleaved pairs of rounds; figures are MEDIANS",
        ],
        child_args=[f"--repeats={args.repeats}", f"--mentors={args.mentors}", f"--requests={args.requests}"],
        env_extra={"GOVERNANCE_VETTING_EXPIRY_INTERVAL": "0", "GOVERNANCE_LOG_LEVEL": "WARNING"},
    )


if __name__ == "__main__":
    sys.exit(main())
