"""Web benchmark: each page next to the JSON route that serves the same data, in the same run.

Run from the repository root::

    .venv/bin/python bench/web.py              # the seeded platform of bench/evidence.py
    .venv/bin/python bench/web.py --quick      # a small platform, for a figure in seconds
    .venv/bin/python bench/web.py --mentors 200 --complaints 2000 --per-round 200

1. The platform is seeded as ``bench/evidence.py`` seeds it (its ``seed_platform``), on a
   fresh SQLite database under a temporary data dir: 1,000 approved mentors with their
   checks and documents, 10,000 complaints, refunds, disputes, data requests and an audit
   log of 100,000 entries by default; ``--quick`` or the size options make it smaller.
2. The real application (``create_app``) is driven in process through ASGI, without a
   network or an HTTP client in between (``bench/vetting.py``'s ``asgi_get``), so that only
   the application's own cost is measured. For each pair in :data:`PAIRS`, the page and
   its JSON route are requested ``--per-round`` times each, one after the other, in
   ``--repeats`` x 4 rounds that alternate which side goes first; each request is timed.

Per pair it prints renders per second of the page and requests per second of the JSON
route (medians over the rounds), ``ratio`` (the median over the rounds of page / JSON;
target >= 50%), and the page's 95th percentile latency over every request (target
< 50 ms), with the JSON route's beside it.

A pair names who asks (``roles`` and ``sub``; no roles: anonymous): the page is requested
with a session cookie opened for them (as a browser that signed in), the JSON route with a
bearer token for the same subject and roles (as an API client). Its paths may hold
``{mentor_id}``, ``{complaint_id}`` and ``{mentee_id}``, filled with a seeded mentor's,
complaint's and mentee's ids (``sub="{mentee_id}"`` asks as that mentee). Its JSON side asks
for as many rows as the page shows and, when the page shows what several routes serve (the
mentee's complaints and their disputes, a case and its refunds), every one of them, one
after the other, timed as one request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from harness import cpu_model, median, out, verdict

P95_TARGET_MS = 50.0
ROUNDS = 4
WARM_UP = 20


@dataclass(frozen=True)
class Pair:
    """A page and the JSON route that serves the same data, requested with the same roles.

    ``json`` may name several routes when the page shows what an API client gets from all
    of them (asked one after the other, they count as one request); each asks for as many
    rows as the page shows."""

    name: str
    page: str
    json: str | tuple[str, ...]
    roles: tuple[str, ...] = ()
    sub: str = "bench"

    @property
    def json_paths(self) -> tuple[str, ...]:
        return (self.json,) if isinstance(self.json, str) else self.json


# The pages measured: each next to the JSON route that serves its data, asked by the same people.
# The lists' pages show 25 rows (the mentee's complaints page its 10 latest disputes too, a
# case page up to 50 refunds); the data requests and consent history pages 50, as many as the
# API gives by default.
PAGE_ROWS = 25
RECENT_DISPUTES = 10
CASE_REFUNDS = 50
YEAR = "period_start={year_ago}&period_end={today}"
MENTEE = ("mentee",)
AGENT = ("support_agent",)
OFFICER = ("compliance_officer",)
AUDITOR = ("auditor",)
PAIRS: tuple[Pair, ...] = (
    Pair("API documentation", page="/schema", json="/schema/openapi.json"),
    # The mentee's pages, as the seeded mentee with a consent history and complaints.
    Pair("Preference centre", "/privacy", "/api/v1/privacy/mentees/{mentee_id}/preferences", MENTEE, "{mentee_id}"),
    Pair(
        "Consent history",
        "/privacy/history",
        "/api/v1/privacy/mentees/{mentee_id}/preferences/history",
        MENTEE,
        "{mentee_id}",
    ),
    Pair("Data requests", "/privacy/requests", "/api/v1/privacy/requests", MENTEE, "{mentee_id}"),
    # Their complaints and, below them, their latest disputes.
    Pair(
        "Your complaints",
        "/complaints",
        (f"/api/v1/complaints?limit={PAGE_ROWS}", f"/api/v1/disputes?limit={RECENT_DISPUTES}"),
        MENTEE,
        "{mentee_id}",
    ),
    Pair("Your complaint", "/complaints/{complaint_id}", "/api/v1/complaints/{complaint_id}", MENTEE, "{mentee_id}"),
    # Support staff.
    Pair("Support queue", "/support?kind=complaints", f"/api/v1/complaints?sort=due&limit={PAGE_ROWS}", AGENT),
    # The case and its refunds (its timeline comes from the audit log, which agents cannot read).
    Pair(
        "Case page",
        "/support/cases/{complaint_id}",
        ("/api/v1/complaints/{complaint_id}", f"/api/v1/refunds?complaint_id={{complaint_id}}&limit={CASE_REFUNDS}"),
        AGENT,
    ),
    # Compliance officers and auditors.
    Pair("Compliance dashboard", "/dashboard", "/api/v1/evidence/readiness", OFFICER),
    Pair("Complaints summary", f"/dashboard/complaints?{YEAR}", f"/api/v1/complaints/summary?{YEAR}", OFFICER),
    Pair("Privacy summary", f"/dashboard/privacy?{YEAR}", f"/api/v1/privacy/summary?{YEAR}", OFFICER),
    Pair("Mentor list", "/vetting/mentors", f"/api/v1/mentors?limit={PAGE_ROWS}", OFFICER),
    Pair("Dossier", "/vetting/mentors/{mentor_id}", "/api/v1/mentors/{mentor_id}/dossier", OFFICER),
    Pair("Evidence bundles", "/bundles", f"/api/v1/evidence/bundles?limit={PAGE_ROWS}", OFFICER),
    Pair("Audit search", "/audit", f"/api/v1/audit/entries?order=desc&limit={PAGE_ROWS}", OFFICER),
    Pair("Audit entry", "/audit/entries/{seq}", "/api/v1/audit/entries/{seq}", OFFICER),
    Pair("Log panel", "/audit/log", "/api/v1/audit/checkpoint", OFFICER),
    Pair("Auditor's desk", "/auditor", "/api/v1/evidence/readiness", AUDITOR),
    # Public pages.
    Pair("Privacy notices", "/privacy/notices", "/api/v1/privacy/notices"),
    Pair("Escalation path", "/escalation", "/api/v1/escalation-policy"),
)

QUICK = {"mentors": 50, "complaints": 500, "refunds": 150, "disputes": 100, "requests": 100, "entries": 2_000}


async def seed(args: argparse.Namespace) -> str:
    """The platform of bench/evidence.py; the line it prints about itself."""
    import evidence

    printed = io.StringIO()
    # Piccolo prints its migrations' progress: keep only the seeder's own summary.
    with contextlib.redirect_stdout(printed):
        await evidence.seed_platform(args)
    return printed.getvalue().strip().splitlines()[-1]


async def seeded_ids() -> dict[str, str]:
    """Ids of one seeded record of each kind, for the pairs' path placeholders."""
    from governance.audit import service as audit
    from governance.complaints.tables import Complaint
    from governance.vetting.tables import Mentor

    today = datetime.now(UTC).date()
    mentor = await Mentor.select(Mentor.id).first()
    complaint = await Complaint.select(Complaint.id, Complaint.complainant_id).first()
    if mentor is None or complaint is None:
        raise SystemExit("the seeded platform has no mentor or no complaint")
    return {
        "mentor_id": str(mentor["id"]),
        "complaint_id": str(complaint["id"]),
        "mentee_id": str(complaint["complainant_id"]),
        "seq": str(await audit.tree_size() // 2),
        "today": today.isoformat(),
        "year_ago": (today - timedelta(days=364)).isoformat(),
    }


async def seed_consents(services: Any, mentee_id: str, changes: int = 40) -> None:
    """A consent history for the measured mentee: ``changes`` choices over the purposes."""
    from governance.core.identity import Identity
    from governance.privacy import consent
    from governance.privacy.schemas import PreferencesUpdate

    purposes = sorted(services.privacy.policy.purposes)
    mentee = Identity(sub=mentee_id, roles=("mentee",))
    for n in range(changes):
        state = "opt_in" if n % 2 == 0 else "opt_out"
        update = PreferencesUpdate(preferences={purposes[n % len(purposes)]: state})
        await consent.change(services.privacy, mentee_id, update, gpc=False, actor=mentee, now=services.clock.now())


Call = Callable[[], Awaitable[tuple[int, bytes]]]


async def timed(call: Call, count: int, path: str) -> tuple[float, list[float]]:
    """``count`` requests one after another: their rate and each one's seconds. Every answer must be 200."""
    latencies = []
    started = time.perf_counter()
    for _ in range(count):
        before = time.perf_counter()
        status, body = await call()
        latencies.append(time.perf_counter() - before)
        if status != 200:
            raise SystemExit(f"GET {path} answered {status}: {body[:300]!r}")
    return count / (time.perf_counter() - started), latencies


def p95_ms(latencies: Sequence[float]) -> float:
    return 1000 * statistics.quantiles(latencies, n=20, method="inclusive")[-1]


Headers = list[tuple[bytes, bytes]]


async def measure(
    app: Any, pair: Pair, page_headers: Headers, json_headers: Headers, ids: dict[str, str], args: Any
) -> None:
    from vetting import asgi_get

    page_path = pair.page.format(**ids)
    json_paths = [path.format(**ids) for path in pair.json_paths]
    json_path = " + ".join(json_paths)
    page = asgi_get(app, page_path, page_headers)
    routes = [asgi_get(app, path, json_headers) for path in json_paths]

    async def data() -> tuple[int, bytes]:
        # Every route the page's data takes; the first answer that is not 200 stands for all.
        answers = [await route() for route in routes]
        return next((answer for answer in answers if answer[0] != 200), answers[-1])

    await timed(page, WARM_UP, page_path)
    await timed(data, WARM_UP, json_path)
    page_rates, data_rates, ratios = [], [], []
    page_latencies: list[float] = []
    data_latencies: list[float] = []
    for round_ in range(args.repeats * ROUNDS):
        # Alternate which side goes first, so that neither always runs on a warmer machine.
        if round_ % 2:
            data_rate, data_times = await timed(data, args.per_round, json_path)
            page_rate, page_times = await timed(page, args.per_round, page_path)
        else:
            page_rate, page_times = await timed(page, args.per_round, page_path)
            data_rate, data_times = await timed(data, args.per_round, json_path)
        page_rates.append(page_rate)
        data_rates.append(data_rate)
        ratios.append(100 * page_rate / data_rate)
        page_latencies += page_times
        data_latencies += data_times
    ratio, page_p95 = median(ratios), p95_ms(page_latencies)
    met = "met" if page_p95 < P95_TARGET_MS else "MISSED"
    out(pair.name)
    out(
        f"  page  {page_path:<40} {median(page_rates):9,.0f} renders/s   "
        f"p95 {page_p95:7.2f} ms (target < {P95_TARGET_MS:.0f} ms: {met})"
    )
    out(f"  json  {json_path:<40} {median(data_rates):9,.0f} requests/s  p95 {p95_ms(data_latencies):7.2f} ms")
    out(
        f"  ratio page / json {ratio:5.1f}%  {verdict(ratio)}  "
        f"(per round: min {min(ratios):.1f}%, max {max(ratios):.1f}%)"
    )


async def run(args: argparse.Namespace) -> None:
    """Seed, then measure every pair on the application in this process."""
    from governance import bootstrap
    from governance.app import application
    from governance.core import db
    from governance.core.clock import SystemClock
    from governance.core.identity import Identity, issue_token
    from governance.core.logging import configure_logging
    from governance.settings import Settings
    from governance.web import sessions
    from governance.web.shell import CookieNames

    started = time.perf_counter()
    seeded = await seed(args)
    out(f"  platform  {seeded} ({time.perf_counter() - started:.0f}s in all)")
    out(
        f"  method    in process through ASGI; {args.per_round:,} requests per side per round, "
        f"{args.repeats * ROUNDS} rounds alternating page and JSON; rates are MEDIANS"
    )
    out()
    settings = Settings.from_env()
    configure_logging(settings)
    clock = SystemClock()
    services = bootstrap.build(settings, clock=clock)
    app = application(services)
    web = services.web
    await db.start(settings)
    try:
        ids = await seeded_ids()
        await seed_consents(services, ids["mentee_id"])
        for pair in PAIRS:
            if args.only and pair.name not in args.only:
                continue
            page_headers: Headers = []
            json_headers: Headers = []
            if pair.roles:
                sub = pair.sub.format(**ids)
                token = issue_token(settings, sub, list(pair.roles), timedelta(hours=2))
                json_headers.append((b"authorization", f"Bearer {token}".encode()))
                kind = sessions.PORTAL if pair.roles == ("mentee",) else sessions.STAFF
                session = await sessions.open_session(
                    web, Identity(sub=sub, roles=pair.roles), clock.now(), kind=kind, method="token"
                )
                cookie_name = CookieNames.over(secure=False).session
                page_headers.append((b"cookie", f"{cookie_name}={session.secret}".encode()))
            await measure(app, pair, page_headers, json_headers, ids, args)
    finally:
        await db.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small platform: " + ", ".join(
        f"{count:,} {name}" for name, count in QUICK.items()))  # fmt: skip
    parser.add_argument("--mentors", type=int, default=1000)
    parser.add_argument("--complaints", type=int, default=10_000)
    parser.add_argument("--refunds", type=int, default=3000)
    parser.add_argument("--disputes", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=2000, help="data requests seeded")
    parser.add_argument("--entries", type=int, default=100_000, help="audit log entries")
    parser.add_argument("--per-round", type=int, default=500, help="requests to each side per round")
    parser.add_argument("--repeats", type=int, default=3, help="sets of rounds; rates are medians over rounds")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="measure only this pair (repeatable), e.g. --only Dossier"
    )
    args = parser.parse_args(argv)
    unknown = set(args.only or ()) - {pair.name for pair in PAIRS}
    if unknown:
        parser.error(f"no pair named {', '.join(sorted(unknown))}; the pairs: {', '.join(p.name for p in PAIRS)}")
    if args.quick:
        for name, count in QUICK.items():
            setattr(args, name, min(getattr(args, name), count))

    out("web benchmark: pages next to the JSON routes that serve the same data, in the same run")
    out(f"  machine   {os.cpu_count()} CPUs ({cpu_model()}), {platform.platform()}")
    out(f"  python    {platform.python_version()} ({sys.executable}), SQLite database")
    with tempfile.TemporaryDirectory(prefix="governance-bench-web-") as tmp:
        # Before anything imports the engine (it reads the environment once); nothing of a
        # deployment's configuration in this shell may reach the benchmark.
        for name in [name for name in os.environ if name.startswith("GOVERNANCE_")]:
            del os.environ[name]
        os.environ.update(
            {
                "GOVERNANCE_DATA_DIR": tmp,
                "GOVERNANCE_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
                "GOVERNANCE_LOG_LEVEL": "WARNING",
                "GOVERNANCE_CHECKPOINT_INTERVAL": "0",
                # The per-subject limits stay in the path (their cost is measured) but never refuse.
                "GOVERNANCE_RATE_LIMIT": str(10**9),
                "GOVERNANCE_SIGN_IN_RATE_LIMIT": str(10**9),
            }
        )
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
