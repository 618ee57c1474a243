"""A real ``governance serve`` process for the browser tests, with its own data and database.

The browser talks to the service over TCP as a person's would, so the service runs as the
deployment runs it: its own process, its own data directory and keys, its own database
(a SQLite file, or on the PostgreSQL run a database of its own beside the suite's), and its
migrations applied by ``serve`` itself. The command line runs against the same
configuration, as an operator's shell on that host would.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parents[2]
# What the ``governance`` console script runs, with this interpreter (and so this checkout).
GOVERNANCE = (sys.executable, "-c", "import sys; from governance.cli import main; sys.argv[0] = 'governance'; main()")
# The server's database is the suite's name with this suffix (never the suite's own).
DATABASE_SUFFIX = "_server"
# The server migrates its database before it answers: on a loaded machine that took half a minute.
START_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0
CLI_TIMEOUT = 60.0


class ServerError(RuntimeError):
    """The server did not start, or a command against it failed; the message holds its output."""


def free_port() -> int:
    """A port nobody listens on now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_async(work: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion in a thread of its own.

    Playwright's sync API leaves its own event loop marked as running in this thread
    between calls, where ``asyncio.run`` would refuse to start.
    """
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(work)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target, name="browser-server-db")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def server_database_url(suite_url: str) -> str:
    """The server's PostgreSQL database: the suite's, with :data:`DATABASE_SUFFIX` on its name."""
    parts = urlsplit(suite_url)
    name = parts.path.lstrip("/") or "postgres"
    return urlunsplit(parts._replace(path=f"/{name}{DATABASE_SUFFIX}"))


def _admin_url_and_name(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


async def _recreate_database(url: str, *, create: bool) -> None:
    import asyncpg

    admin, name = _admin_url_and_name(url)
    conn = await asyncpg.connect(admin, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


class Server:
    """One ``governance serve`` process on 127.0.0.1: start it, talk to it, stop it.

    ``env`` is the whole ``GOVERNANCE_*`` configuration the server and :meth:`cli` share.
    """

    def __init__(self, *, postgres_url: str | None = None, settings: Mapping[str, str] | None = None) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="governance-browser-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.postgres_url = postgres_url
        database_url = postgres_url or f"sqlite:///{self.data_dir / 'governance.sqlite3'}"
        self.env = {name: value for name, value in os.environ.items() if not name.startswith("GOVERNANCE_")}
        self.env.update(
            {
                "GOVERNANCE_DATA_DIR": str(self.data_dir),
                "GOVERNANCE_DATABASE_URL": database_url,
                "GOVERNANCE_HOST": "127.0.0.1",
                "GOVERNANCE_PORT": str(self.port),
                **(settings or {}),
            }
        )
        self.log_path = self.data_dir / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process (it migrates its database first) and wait until ``/ready`` answers 200.

        Call :meth:`stop` afterwards whether or not this succeeds.
        """
        if self.postgres_url is not None:
            run_async(_recreate_database(self.postgres_url, create=True))
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [*GOVERNANCE, "serve"], env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ready():
            if self._process.poll() is not None:
                raise ServerError(f"the server exited with status {self._process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise ServerError(f"the server was not ready within {START_TIMEOUT:.0f}s:\n{self.log()}")
            time.sleep(0.1)

    def ready(self) -> bool:
        """Whether ``/ready`` answers 200 now."""
        try:
            return httpx.get(f"{self.url}/ready", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        """Stop the process as a supervisor would (SIGTERM, then SIGKILL), then remove its data."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self.postgres_url is not None:
            run_async(_recreate_database(self.postgres_url, create=False))
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def log(self, tail: int = 60) -> str:
        """The last ``tail`` lines the server wrote."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-tail:])

    def cli(self, *args: str) -> str:
        """Run ``governance ARGS`` against this server's configuration; its stdout, stripped.

        Fails with the command's stderr when it exits non-zero.
        """
        done = subprocess.run(
            [*GOVERNANCE, *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise ServerError(f"`governance {' '.join(args)}` exited with {done.returncode}: {done.stderr.strip()}")
        return done.stdout.strip()

    def token(self, sub: str, *roles: str, ttl: str = "PT1H") -> str:
        """A bearer token for ``sub`` with ``roles``, as ``governance token issue`` prints it."""
        role_args = [arg for role in roles for arg in ("--role", role)]
        return self.cli("token", "issue", "--sub", sub, *role_args, "--ttl", ttl)

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client on the server, with ``token`` as its bearer token when given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)
