"""`make fuzz`: Schemathesis against the service's own OpenAPI document, once per role.

Starts ``governance serve`` on a free 127.0.0.1 port with its own temporary data directory
(SQLite; PostgreSQL when ``FUZZ_DATABASE_URL`` is set, a database this run may write into),
seeds a little data through the API so that the ids Schemathesis tries sometimes exist,
then runs ``schemathesis run --checks all`` with each role's token and once with none,
stops the server and prints one summary line per role. Exit status 1 when any run failed.

Settings (environment): ``FUZZ_MAX_EXAMPLES`` (default 50 per operation and phase),
``FUZZ_ROLES`` (comma-separated, default every role and ``none``), ``FUZZ_PHASES`` (default
Schemathesis's: examples, coverage, fuzzing, stateful), ``FUZZ_WORKERS`` (default 1),
``FUZZ_SEED``, ``FUZZ_REPORT_DIR`` (default ``var/fuzz``: per role the console output, a JSON
report and a pytest file that reproduces each failure).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROLES = ("mentee", "mentor", "support_agent", "compliance_officer", "auditor", "platform", "admin", "none")
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
MENTEE = "fuzz-mentee-1"
SESSION = "fuzz-session-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def governance(*args: str, env: dict[str, str]) -> str:
    """Run the ``governance`` command (this interpreter's) and return what it printed."""
    done = subprocess.run(  # noqa: S603 - this environment's own command, arguments built here
        [str(BIN / "governance"), *args], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip()


@contextmanager
def served(env: dict[str, str], base: str, log: Path) -> Iterator[None]:
    """``governance serve`` running until the block ends (its output in ``log``)."""
    with log.open("w") as out:
        server = subprocess.Popen(  # noqa: S603 - this environment's own command
            [str(BIN / "governance"), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"governance serve exited with {server.returncode}; see {log}")
                try:
                    if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"governance serve did not become ready in 60 s; see {log}")
                time.sleep(0.3)
            yield
        finally:
            # Only the server this script started, by its process group.
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def seed(base: str, tokens: dict[str, str]) -> dict[str, list[str | int]]:
    """A few records of each kind, made through the API; their ids, by path parameter name."""
    ids: dict[str, list[str | int]] = {"mentee_id": [MENTEE], "session_id": [SESSION], "seq": [0, 1, 2]}
    today = date.today()

    def call(role: str, method: str, path: str, body: Any = None, **headers: str) -> dict[str, Any]:
        response = httpx.request(
            method,
            f"{base}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {tokens[role]}", **headers},
            timeout=30,
        )
        if response.status_code >= 300:
            print(f"  seeding {method} {path} as {role}: {response.status_code} {response.text[:200]}", file=sys.stderr)
            return {}
        found: dict[str, Any] = response.json()
        return found

    def keep(name: str, record: dict[str, Any], key: str = "id") -> None:
        if record.get(key):
            ids.setdefault(name, []).append(str(record[key]))

    mentor = call(
        "platform",
        "POST",
        "/mentors",
        {
            "external_id": f"fuzz-{uuid.uuid4().hex[:8]}",
            "display_name": "Ada Fuzz",
            "email": "ada@example.org",
            "jurisdiction": "GB",
            "engagement_type": "contractor",
        },
    )
    keep("mentor_id", mentor)
    if mentor:
        check = call(
            "compliance_officer",
            "POST",
            f"/mentors/{mentor['id']}/checks",
            {
                "check_type": "background_check",
                "details": {"level": "enhanced", "certificate_number": "0012", "issuing_body": "DBS"},
            },
        )
        keep("check_id", check)
        decision = call(
            "compliance_officer", "POST", f"/mentors/{mentor['id']}/decisions", {"action": "suspend", "rationale": "x"}
        )
        keep("decision_id", decision)
        session_at = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        call(
            "platform",
            "POST",
            f"/mentors/{mentor['id']}/ratings",
            {"session_id": SESSION, "mentee_id": MENTEE, "score": 4, "session_at": session_at},
        )
        attestation = call(
            "platform",
            "POST",
            "/attestations",
            {
                "mentor_id": mentor["id"],
                "candidate_id": MENTEE,
                "competency": "system-design",
                "score": 3,
                "rubric_version": "2026.1",
                "session_date": (today - timedelta(days=1)).isoformat(),
                "token_sha256": "0" * 64,
                "session_id": SESSION,
            },
        )
        keep("attestation_id", attestation)
        if attestation:
            keep("dispute_id", call("mentee", "POST", f"/attestations/{attestation['id']}/disputes", {"reason": "x"}))
    keep(
        "complaint_id",
        call(
            "mentee",
            "POST",
            "/complaints",
            {"category": "billing", "description": "Charged twice", "session_id": SESSION},
        ),
    )
    call(
        "platform",
        "PUT",
        f"/sessions/{SESSION}/payment",
        {"mentee_id": MENTEE, "amount_minor": 5000, "currency": "EUR"},
    )
    refund = call(
        "support_agent",
        "POST",
        "/refunds",
        {"session_id": SESSION, "amount_minor": 1000, "currency": "EUR", "reason": "Charged twice"},
        **{"Idempotency-Key": uuid.uuid4().hex},
    )
    keep("refund_id", refund)
    change = call(
        "mentee",
        "PUT",
        f"/privacy/mentees/{MENTEE}/preferences",
        {"preferences": {"share_attestations_with_employers": "opt_in"}},
    )
    keep("receipt_id", change.get("receipt") or {}, "receipt_id")
    keep("request_id", call("mentee", "POST", "/privacy/requests", {"type": "access", "description": "All of it"}))
    bundle = call(
        "compliance_officer",
        "POST",
        "/evidence/bundles",
        {"period_start": (today - timedelta(days=30)).isoformat(), "period_end": today.isoformat(), "title": "Fuzz"},
    )
    keep("bundle_id", bundle)
    return ids


def config_file(ids: dict[str, list[str | int]], path: Path) -> Path:
    """A schemathesis.toml that offers the seeded ids for half of each path parameter's values."""
    lines = []
    for name, values in sorted(ids.items()):
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines += [
        "[checks.missing_required_header]",
        "# 428 Precondition Required is the service's answer to a write without If-Match (RFC 6585).",
        'expected-statuses = ["400", "401", "403", "406", "415", "422", "428"]',
        "",
        "[checks.positive_data_acceptance]",
        "# 412: a well-formed If-Match that names an older version (documented, by design).",
        "# 400 and 422: rules a schema cannot state, each answered as a documented problem naming",
        "# the field: a cursor this service issued, a tree size up to the latest checkpoint, a",
        "# period of at most three years, purposes and check types from the policy files, fields",
        "# only some roles may set, an integer sent as 1.0, an Idempotency-Key reused with another",
        "# body. 415: a document judged by its content, not its declared type. A 5xx still",
        "# fails the run (the not_a_server_error check).",
        'expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "412", "415", "422", "429", "5xx"]',
        "",
        "[parameters]",
    ]
    lines += [f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}' for name in sorted(ids)]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_role(role: str, token: str | None, base: str, config: Path, reports: Path, work: Path) -> tuple[int, str]:
    """One Schemathesis run; its exit code and its summary line."""
    reports.mkdir(parents=True, exist_ok=True)
    command = [
        str(BIN / "schemathesis"),
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{base}/schema/openapi.json",
        "--url",
        base,
        "--checks",
        "all",
        "--max-examples",
        os.environ.get("FUZZ_MAX_EXAMPLES", "50"),
        "--workers",
        # One: CPython 3.11's ast module can raise a spurious SystemError when Hypothesis
        # describes strategies from several threads at once (python/cpython#106905).
        os.environ.get("FUZZ_WORKERS", "1"),
        "--request-timeout",
        "30",
        "--report",
        "json,pytest",
        "--report-dir",
        str(reports),
    ]
    if os.environ.get("FUZZ_PHASES"):
        command += ["--phases", os.environ["FUZZ_PHASES"]]
    if os.environ.get("FUZZ_SEED"):
        command += ["--seed", os.environ["FUZZ_SEED"]]
    if token is not None:
        command += ["--header", f"Authorization: Bearer {token}"]
    started = time.monotonic()
    with (reports / "output.txt").open("w") as out:
        # Its own working directory: Schemathesis and Hypothesis keep caches there.
        code = subprocess.run(  # noqa: S603 - this environment's schemathesis, arguments built here
            command, cwd=work, stdout=out, stderr=subprocess.STDOUT, check=False
        ).returncode
    elapsed = time.monotonic() - started
    return code, summary_line(role, code, reports, elapsed)


def summary_line(role: str, code: int, reports: Path, elapsed: float) -> str:
    """``role: N/N operations, N cases, N failures (by kind), N errors [exit N, N s]`` from the run's output."""
    text = (reports / "output.txt").read_text(errors="replace")
    tested = re.search(r"Tested:\s+(\d+)", text)
    selected = re.search(r"Selected:\s+(\d+)/(\d+)", text)
    cases = re.search(r"Test cases:\s*\n\s*(\d+) generated", text)
    failures = re.findall(r"^\s+❌ (ST\d+ [^:\n]+): (\d+)$", text, flags=re.MULTILINE)
    errors = re.findall(r"^\s+🚫 ([^:\n]+): (\d+)$", text, flags=re.MULTILINE)
    kinds = "; ".join(f"{kind} {count}" for kind, count in failures) or "none"
    return (
        f"{role}: {tested.group(1) if tested else '?'}/{selected.group(2) if selected else '?'} operations, "
        f"{cases.group(1) if cases else '?'} cases; failures: {kinds}; "
        f"errors: {'; '.join(f'{kind} {count}' for kind, count in errors) or 'none'} "
        f"[exit {code}, {elapsed:.0f} s]"
    )


def main() -> int:
    """Serve, seed, fuzz each role, stop; print a summary line per role."""
    if shutil.which("schemathesis", path=str(BIN)) is None:
        print("schemathesis is not installed here: pip install -e '.[fuzz]'", file=sys.stderr)
        return 2
    roles = [r.strip() for r in os.environ.get("FUZZ_ROLES", ",".join(ROLES)).split(",") if r.strip()]
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        print(f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLES)}", file=sys.stderr)
        return 2
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report_root = Path(os.environ.get("FUZZ_REPORT_DIR", ROOT / "var" / "fuzz")) / stamp
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="governance-fuzz-") as scratch:
        data_dir = Path(scratch) / "data"
        env = {
            **os.environ,
            "GOVERNANCE_ENV": "development",
            "GOVERNANCE_HOST": "127.0.0.1",
            "GOVERNANCE_PORT": str(port),
            "GOVERNANCE_DATA_DIR": str(data_dir),
            "GOVERNANCE_LOG_LEVEL": "WARNING",
            # Thousands of cases a minute from one subject: the fuzz is of the API, not the limiter.
            "GOVERNANCE_RATE_LIMIT": "0",
        }
        env.pop("GOVERNANCE_DATABASE_URL", None)
        if os.environ.get("FUZZ_DATABASE_URL"):
            env["GOVERNANCE_DATABASE_URL"] = os.environ["FUZZ_DATABASE_URL"]
        report_root.mkdir(parents=True, exist_ok=True)
        governance("migrate", env=env)  # the deployment (database and keys) the tokens belong to
        tokens = {
            role: governance("token", "issue", "--sub", f"fuzz-{role}", "--role", role, env=env)
            for role in ROLES
            if role != "none"
        }
        tokens["mentee"] = governance("token", "issue", "--sub", MENTEE, "--role", "mentee", env=env)
        database = "PostgreSQL" if "FUZZ_DATABASE_URL" in os.environ else "SQLite"
        print(f"fuzzing {base} ({database}); reports in {report_root}")
        lines = []
        with served(env, base, report_root / "server.log"):
            ids = seed(base, tokens)
            if ids.get("mentor_id"):  # a mentor's token is the id the service gave them
                tokens["mentor"] = governance(
                    "token", "issue", "--sub", ids["mentor_id"][0], "--role", "mentor", env=env
                )
            config = config_file(ids, report_root / "schemathesis.toml")
            print(f"seeded: {', '.join(f'{k} {len(v)}' for k, v in sorted(ids.items()))}")
            worst = 0
            for role in roles:
                code, line = run_role(role, tokens.get(role), base, config, report_root / role, Path(scratch))
                print(line, flush=True)
                lines.append(line)
                worst = max(worst, code)
        (report_root / "summary.txt").write_text("\n".join(lines) + "\n")
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
