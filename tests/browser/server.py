"""A real ``governance serve`` process for the browser tests, with its own data and database.

The browser talks to the service over TCP as a person's would, so the service runs as the
deployment runs it: its own process, its own data directory and keys, its own database
(a SQLite file, or on the PostgreSQL run a database of its own beside the suite's), and its
migrations applied by ``serve`` itself. The command line runs against the same
configuration, as an operator's shell on that host would.

Each command is a process of its own, forked from a helper that started like the command
line (same interpreter, environment and working directory) and imported its modules once:
a fresh interpreter spent most of a command's time importing them.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import importlib
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, NoReturn
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
# What the helper imports before it forks: what ``token issue`` and ``token link`` import.
CLI_MODULES = (
    "governance.cli",
    "governance.bootstrap",
    "governance.core.db",
    "governance.core.durations",
    "governance.core.identity",
    "governance.core.logging",
    "governance.web.sessions",
    "asyncpg",
    "piccolo.apps.migrations.commands.check",
)
# Starts the helper that forks the commands (:func:`fork_commands`).
COMMAND_FORKER = (sys.executable, "-c", "from tests.browser.server import fork_commands; fork_commands()")


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


def fork_commands() -> None:
    """Fork one ``governance`` command per request line on stdin; answer each with one line.

    A request is ``{"args": [...], "stdout": path, "stderr": path, "timeout": seconds}`` in
    JSON; a command still running after its timeout is killed. The answer is
    ``{"returncode": ..., "timed_out": ...}``, the return code as :mod:`subprocess` gives it
    (negative: the signal that ended the command).
    """
    for module in CLI_MODULES:
        importlib.import_module(module)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                _become_command(request["args"], request["stdout"], request["stderr"])
            finally:
                os._exit(1)  # whatever happens, the child never goes on with the helper's loop
        ended = os.pidfd_open(pid)
        try:
            timed_out = not select.select([ended], [], [], request["timeout"])[0]
            if timed_out:
                os.kill(pid, signal.SIGKILL)
        finally:
            os.close(ended)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status), "timed_out": timed_out}), flush=True)


def _become_command(args: list[str], stdout: str, stderr: str) -> NoReturn:
    """In the forked child: run ``governance ARGS`` and exit as its interpreter would.

    That is: wait for its threads, run its exit functions, flush its output, exit with the
    status ``SystemExit`` carries (1 after an uncaught exception, whose traceback goes to
    stderr). Only the teardown of every module's objects is left out: in a child of the
    helper it touched each of them, copying the helper's memory page by page, which cost
    more than the command itself.
    """
    from governance.cli import main

    written = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, stdout, written), (2, stderr, written)):
        opened = os.open(path, flags, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    sys.argv = ["governance", *args]
    status = 1
    try:
        main()
    except SystemExit as exc:
        status = _exit_status(exc.code)
    except BaseException:
        sys.excepthook(*sys.exc_info())
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(status)


def _exit_status(code: object) -> int:
    """The status an interpreter exits with on ``SystemExit(code)`` (printing any other object)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once: each client built its own (some 20 ms of CPU)."""
    return httpx.create_ssl_context()


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
        self._forker: subprocess.Popen[str] | None = None
        self._commands_run = 0

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
        # Its imports overlap the server's start rather than the first command's.
        self._start_forker()
        deadline = time.monotonic() + START_TIMEOUT
        # One client for every try: a new one builds its TLS context each time (some 20 ms of
        # CPU), taken from the server while it migrates on a machine of two cores.
        with httpx.Client(timeout=2) as client:
            while not self.ready(client):
                if self._process.poll() is not None:
                    raise ServerError(f"the server exited with status {self._process.returncode}:\n{self.log()}")
                if time.monotonic() > deadline:
                    raise ServerError(f"the server was not ready within {START_TIMEOUT:.0f}s:\n{self.log()}")
                time.sleep(0.1)

    def ready(self, client: httpx.Client | None = None) -> bool:
        """Whether ``/ready`` answers 200 now (asked through ``client`` when given)."""
        try:
            if client is None:
                return httpx.get(f"{self.url}/ready", timeout=2).status_code == 200
            return client.get(f"{self.url}/ready").status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        """Stop the process as a supervisor would (SIGTERM, then SIGKILL), then remove its data."""
        if self._forker is not None:
            self._stop_forker()
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
        self._commands_run += 1
        stdout, stderr = (self.data_dir / f"command-{self._commands_run}.{name}" for name in ("out", "err"))
        try:
            returncode = self._run_forked(list(args), stdout, stderr)
            if returncode != 0:
                said = stderr.read_text(errors="replace").strip()
                raise ServerError(f"`governance {' '.join(args)}` exited with {returncode}: {said}")
            return stdout.read_text().strip()
        finally:
            stdout.unlink(missing_ok=True)
            stderr.unlink(missing_ok=True)

    def _run_forked(self, args: list[str], stdout: Path, stderr: Path) -> int:
        """The return code of ``governance ARGS`` forked by the helper; killed after :data:`CLI_TIMEOUT`."""
        forker = self._start_forker()
        assert forker.stdin is not None and forker.stdout is not None
        request = {"args": args, "stdout": str(stdout), "stderr": str(stderr), "timeout": CLI_TIMEOUT}
        forker.stdin.write(json.dumps(request) + "\n")
        forker.stdin.flush()
        # One answer per request, so nothing of the next one can be buffered unseen behind it.
        if not select.select([forker.stdout], [], [], CLI_TIMEOUT + STOP_TIMEOUT)[0]:
            raise ServerError(f"the command forker did not answer for `governance {' '.join(args)}`")
        line = forker.stdout.readline()
        if not line:
            raise ServerError(f"the command forker exited with status {forker.wait()}")
        answer = json.loads(line)
        if answer["timed_out"]:
            raise subprocess.TimeoutExpired(["governance", *args], CLI_TIMEOUT)
        return int(answer["returncode"])

    def _start_forker(self) -> subprocess.Popen[str]:
        if self._forker is None:
            self._forker = subprocess.Popen(
                COMMAND_FORKER,
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self._forker

    def _stop_forker(self) -> None:
        """Close the helper's input: it ends once the command under way (if any) has."""
        assert self._forker is not None
        if self._forker.stdin is not None:
            self._forker.stdin.close()
        try:
            self._forker.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._forker.kill()
            self._forker.wait()
        if self._forker.stdout is not None:
            self._forker.stdout.close()
        self._forker = None

    def token(self, sub: str, *roles: str, ttl: str = "PT1H") -> str:
        """A bearer token for ``sub`` with ``roles``, as ``governance token issue`` prints it."""
        role_args = [arg for role in roles for arg in ("--role", role)]
        return self.cli("token", "issue", "--sub", sub, *role_args, "--ttl", ttl)

    def client(self, token: str | None = None) -> httpx.Client:
        """An HTTP client on the server, with ``token`` as its bearer token when given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, verify=_tls_context())
