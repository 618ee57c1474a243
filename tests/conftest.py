"""Test set-up: one backend per pytest run (GOVERNANCE_TEST_BACKEND=sqlite|postgres).

The engine is process-wide (Piccolo finds it through piccolo_conf), so `make test` runs
the suite once per backend (both at once). On PostgreSQL the test database is wiped at the
start of the run, and only the tests that use a database run there; with CI=true an
unreachable PostgreSQL fails the run instead of skipping it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

BACKEND = os.environ.get("GOVERNANCE_TEST_BACKEND", "sqlite")
PG_URL = os.environ.get("GOVERNANCE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
# In memory where the machine has a tmpfs: SQLite commits and stored objects then cost no disk
# flush (about 2 ms each on this kind of machine; the directory is removed at the end of the run).
_MEMORY = Path("/dev/shm")
_IN_MEMORY = _MEMORY.is_dir() and os.access(_MEMORY, os.W_OK)
DATA_DIR = Path(tempfile.mkdtemp(prefix="governance-test-", dir=_MEMORY if _IN_MEMORY else None))

# Before anything imports the engine: tests own their data dir and database.
os.environ.update(
    {
        "GOVERNANCE_DATA_DIR": str(DATA_DIR),
        "GOVERNANCE_DATABASE_URL": PG_URL if BACKEND == "postgres" else f"sqlite:///{DATA_DIR}/test.sqlite3",
        "GOVERNANCE_CHECKPOINT_INTERVAL": "0",
        "GOVERNANCE_VETTING_EXPIRY_INTERVAL": "0",
        # Tests drive the bundle worker themselves (governance.evidence.worker.work_once).
        "GOVERNANCE_EVIDENCE_POLL_INTERVAL": "0",
        "GOVERNANCE_LOG_LEVEL": "INFO",
    }
)

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import hypothesis  # noqa: E402
import pytest  # noqa: E402
from litestar import Litestar  # noqa: E402

from governance import bootstrap  # noqa: E402
from governance.app import application  # noqa: E402
from governance.bootstrap import Services  # noqa: E402
from governance.cli import run_migrations  # noqa: E402
from governance.core import db  # noqa: E402
from governance.core.clock import ManualClock  # noqa: E402
from governance.core.identity import issue_token  # noqa: E402
from governance.settings import Settings  # noqa: E402

AuthHeaders = Callable[..., dict[str, str]]

# Property tests judge correctness, not speed: on a loaded machine (CI, several suites at
# once) generating inputs is slow, which must not fail a test.
hypothesis.settings.register_profile(
    "governance", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("governance")


def pytest_report_header() -> str:
    return f"governance backend: {BACKEND} ({os.environ['GOVERNANCE_DATABASE_URL']})"


# The fixtures through which a test reaches the backend under test: the suite's settings
# (itself, or through ``database``, ``client``, ``app``) and a served process's (tests/browser).
BACKEND_FIXTURES = frozenset({"settings", "server"})


def _uses_backend(item: pytest.Item) -> bool:
    return not BACKEND_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, only the tests that use the database.

    A test that asks for none of ``BACKEND_FIXTURES`` never reaches the engine: it runs the
    same code on either backend, and the SQLite run of ``make test`` has run it. The
    PostgreSQL run lists them as deselected.
    """
    if BACKEND != "postgres":
        return
    backend_free = [item for item in items if not _uses_backend(item)]
    if backend_free:
        config.hook.pytest_deselected(items=backend_free)
        items[:] = [item for item in items if _uses_backend(item)]


def pytest_unconfigure() -> None:
    shutil.rmtree(DATA_DIR, ignore_errors=True)


async def _reset_postgres() -> None:
    try:
        conn = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL at {PG_URL} is unreachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.exit(message, returncode=1)
        pytest.exit(message + " (skipping the PostgreSQL run outside CI)", returncode=0)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        # Commits need not wait for the disk: durability across a server crash is no test's
        # subject, and every transaction is as visible and as atomic as before.
        await conn.execute(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = off', current_database()); END $$"
        )
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def settings() -> Settings:
    settings = Settings.from_env()
    if BACKEND == "postgres":
        asyncio.run(_reset_postgres())
    asyncio.run(run_migrations(settings))
    return settings


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Settings]:
    """The database open (connection pool on PostgreSQL) for service-level tests."""
    await db.start(settings)
    yield settings
    await db.stop()


@pytest.fixture(scope="session")
def module_clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def clock(module_clock: ManualClock) -> ManualClock:
    """The application's clock in tests: starts at the real time, moves only with ``advance``.

    One clock for the session's application, set back to the real time for every test.
    """
    module_clock.set(datetime.now(UTC))
    return module_clock


@pytest.fixture(scope="session")
def services(settings: Settings, module_clock: ManualClock) -> Services:
    """What the application of this module runs on (its vetting, privacy, keyring, ...)."""
    return bootstrap.build(settings, clock=module_clock)


@pytest.fixture(scope="session")
def app(services: Services) -> Litestar:
    """One application per test module: building it costs more than most tests do.

    Requests hold no state in it between tests (the database does; the lifespan and its
    background jobs do not run under the test transport).
    """
    return application(services)


# The session's application counts public requests per client address for a minute: each
# test's client comes from an address of its own (loopback, as before), so that one test's
# requests never count against another's.
_client_addresses = (f"127.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}" for n in itertools.count(2))


def app_client(app: Litestar) -> httpx.AsyncClient:
    """An HTTP client on ``app`` through ASGI, from a client address of its own."""
    transport = httpx.ASGITransport(app=app, client=(next(_client_addresses), 123))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def client(database: Settings, clock: ManualClock, app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the application, in the test's own event loop.

    Litestar's test clients run the lifespan in a portal thread with its own loop, where
    an asyncpg pool would be unusable from the test; the database fixture opens it here.
    """
    async with app_client(app) as test_client:
        yield test_client


@pytest.fixture
def auth(settings: Settings) -> AuthHeaders:
    """``auth("auditor", sub="a-1")`` -> headers with a bearer token for that role."""

    def headers(*roles: str, sub: str = "tester", ttl: timedelta = timedelta(minutes=5)) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(settings, sub, list(roles), ttl)}"}

    return headers


@pytest.fixture
def data_dir() -> Iterator[Path]:
    return DATA_DIR


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, over real HTTP."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A fresh bucket on the moto server, and the test settings pointing at it."""
    import uuid

    import boto3
    import msgspec

    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(name, value)
    bucket = f"governance-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="eu-west-2").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    return msgspec.structs.replace(settings, s3_bucket=bucket, s3_endpoint_url=s3_endpoint, s3_region="eu-west-2")


@pytest.fixture
def locked_bucket(s3_bucket: Settings) -> Settings:
    """A bucket with Object Lock enabled (and so versioning) on the same moto server."""
    import boto3
    import msgspec

    bucket = s3_bucket.s3_bucket + "-locked"
    boto3.client("s3", endpoint_url=s3_bucket.s3_endpoint_url, region_name="eu-west-2").create_bucket(
        Bucket=bucket,
        CreateBucketConfiguration={"LocationConstraint": "eu-west-2"},
        ObjectLockEnabledForBucket=True,
    )
    return msgspec.structs.replace(s3_bucket, s3_bucket=bucket)


from contextlib import asynccontextmanager  # noqa: E402


@asynccontextmanager
async def sequencer_batch_holding_its_locks() -> AsyncIterator[None]:
    """PostgreSQL: another connection holds what a sequencer batch holds until it commits (its
    turn, the advisory lock, and the head row it numbers from), for as long as the block runs.
    A change that waited for either would never finish inside the block (the caller bounds it
    with a generous ``asyncio.wait_for``, a guard against hanging, not a timing assertion)."""
    from governance.audit import sequencer

    conn = await asyncpg.connect(PG_URL, timeout=5)
    held = conn.transaction()
    await held.start()
    try:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", sequencer._SEQUENCER_LOCK)
        await conn.execute("UPDATE audit_head SET next_seq = next_seq WHERE name = 'audit'")
        yield
    finally:
        await held.rollback()
        await conn.close()


# Generous: only a change that waits for a lock held until the end of the block reaches it.
NO_HANG_SECONDS = 60
