#!/usr/bin/env python3
"""Record a realistic audit log through the service's own API, then export it.

This made the vector beside it (``export.jsonl``, ``verifier-key.txt``, ``checkpoint-*.txt``)
with the code as it stood before issue 13's refactor, and the test
``tests/audit/test_before_refactor.py`` runs it again on today's code to compare what is
recorded. It runs against whichever checkout comes first on ``PYTHONPATH``::

    git worktree add /tmp/before 2903b24
    PYTHONPATH=/tmp/before python tests/audit/vectors/before-refactor/make.py OUT_DIR

(``python`` being one with the project's dependencies, e.g. ``.venv/bin/python``.)

The workload, in this order, each step through the HTTP API in-process (httpx on the
checkout's ``create_app``, its lifespan run, bearer tokens from its ``issue_token``):

1. the platform registers two mentors; officers record every check the first one's dossier
   requires, upload its documents, review and pass it (a second officer passes the
   four-eyes checks); one officer proposes the approval, another confirms it;
   then ``governance audit checkpoint`` signs a checkpoint;
2. the platform reports a session's payment; its mentee files a complaint about a double
   charge, which support acknowledges, investigates, notes and resolves (upheld); support
   requests a refund for it (``Idempotency-Key``), another agent approves it and the
   platform reports it issued;
3. the platform records an attestation, its candidate disputes it and support decides
   the dispute; the mentee changes their privacy preferences;
   then ``governance audit checkpoint`` signs a second checkpoint;
4. the mentee asks for their data (access: completed, the export downloaded), then for its
   erasure (completed); a mentee asks for the audit log and is refused (``access.denied``);
5. the auditor exports the whole log under a fresh signed checkpoint
   (``GET /api/v1/audit/export``, which writes what ``governance audit export`` writes).

Every periodic job is off, so the log holds only what the steps above record. The
database, the master key, the JWT secret and the checkpoint signing key live in a
temporary data directory (under /tmp) that is deleted at the end (``--keep-data`` keeps it
and prints where); nothing secret is written to OUT_DIR, which receives:

- ``export.jsonl``: the export, byte for byte as the service answered it;
- ``verifier-key.txt``: the public verifier key, as ``GET /api/v1/audit/public-key`` serves it;
- ``checkpoint-<size>.txt``: each signed note ``governance audit checkpoint`` printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PLATFORM = ("platform", "platform-1")
OFFICER = ("compliance_officer", "officer-a")
SECOND_OFFICER = ("compliance_officer", "officer-b")
AGENT = ("support_agent", "agent-1")
SECOND_AGENT = ("support_agent", "agent-2")
AUDITOR = ("auditor", "auditor-1")
MENTEE = ("mentee", "mentee-ada")
CANDIDATE = ("mentee", "mentee-bo")
# Check types the shipped requirements pass only with a second officer's eyes.
FOUR_EYES = frozenset({"background_check"})

Caller = tuple[str, str]


def environment(data_dir: Path) -> dict[str, str]:
    """The process environment of a throwaway deployment: only this script's settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("GOVERNANCE_")}
    env.update(
        {
            "GOVERNANCE_DATA_DIR": str(data_dir),
            "GOVERNANCE_LOG_LEVEL": "WARNING",
            # No job of its own: the log holds what the workload records, in its order.
            "GOVERNANCE_CHECKPOINT_INTERVAL": "0",
            "GOVERNANCE_SEQUENCER_INTERVAL": "0",
            "GOVERNANCE_VETTING_EXPIRY_INTERVAL": "0",
            "GOVERNANCE_SLA_SCAN_INTERVAL": "0",
            "GOVERNANCE_CONSENT_EXPIRY_INTERVAL": "0",
            "GOVERNANCE_RETENTION_SWEEP_INTERVAL": "0",
            "GOVERNANCE_EVIDENCE_POLL_INTERVAL": "0",
        }
    )
    return env


def governance(env: Mapping[str, str], *args: str) -> str:
    """Run the checkout's ``governance`` command; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "governance.cli", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"governance {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


class Workload:
    """The steps of the module docstring, as the platform, officers, agents and mentees call them."""

    def __init__(self, client: Any, settings: Any, env: Mapping[str, str], out: Path) -> None:
        from governance.core.identity import issue_token

        self.client = client
        self.env = env
        self.out = out
        self.today = datetime.now(UTC).date().isoformat()
        self.mentor = ""  # the approved mentor, once registered
        self._token = lambda sub, role: issue_token(settings, sub, [role], timedelta(hours=1))

    def headers(self, caller: Caller, **extra: str) -> dict[str, str]:
        role, sub = caller
        return {"Authorization": f"Bearer {self._token(sub, role)}", **extra}

    async def call(
        self,
        caller: Caller,
        method: str,
        path: str,
        expect: int = 200,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        response = await self.client.request(
            method, "/api/v1" + path, headers=self.headers(caller, **(headers or {})), **kwargs
        )
        if response.status_code != expect:
            raise SystemExit(f"{method} {path} as {caller}: {response.status_code}, expected {expect}: {response.text}")
        return response

    async def move(self, caller: Caller, path: str, to: str, **body: Any) -> Any:
        """A transition with the record's current ETag in ``If-Match``, as clients must send it."""
        etag = (await self.call(caller, "GET", path)).headers["etag"]
        return await self.call(
            caller, "POST", f"{path}/transitions", json={"to": to, **body}, headers={"If-Match": etag}
        )

    def checkpoint(self) -> None:
        signed = governance(self.env, "audit", "checkpoint")
        size = signed.splitlines()[1]
        (self.out / f"checkpoint-{size}.txt").write_text(signed, encoding="utf-8")

    async def run(self) -> None:
        key = await self.client.get("/api/v1/audit/public-key")
        (self.out / "verifier-key.txt").write_text(key.text, encoding="utf-8")
        await self.vetting()
        self.checkpoint()
        await self.complaint_and_refund()
        await self.attestation_and_dispute()
        await self.privacy_preferences()
        self.checkpoint()
        await self.data_requests()
        await self.call(MENTEE, "GET", "/audit/entries", expect=403)
        export = await self.call(AUDITOR, "GET", "/audit/export")
        (self.out / "export.jsonl").write_bytes(export.content)

    async def register(self, external_id: str, name: str) -> str:
        body = {
            "external_id": external_id,
            "display_name": name,
            "email": f"{external_id}@example.org",
            "jurisdiction": "GB",
            "engagement_type": "contractor",
            "specialties": ["interview practice"],
        }
        return str((await self.call(PLATFORM, "POST", "/mentors", expect=201, json=body)).json()["id"])

    async def vetting(self) -> None:
        mentor = await self.register("m-ada", "Ada Example")
        await self.register("m-bea", "Bea Example")
        # Spelled out, not imported from the vetting tests: this script is the recipe of a
        # recorded vector, and must not drift when they change.
        details = {
            "method": "document and video check",
            "level": "enhanced",
            "certificate_number": "001234567890",
            "issuing_body": "DBS",
            "credential": "ICF PCC",
            "referee_relationship": "former manager",
            "interviewer": "officer-a",
            "code_version": "2026.1",
            "course": "Safeguarding adults and children",
            "provider": "NSPCC",
            "issued_on": self.today,
        }
        dossier = (await self.call(OFFICER, "GET", f"/mentors/{mentor}/dossier")).json()
        for requirement in dossier["requirements"]:
            check_type = requirement["check_type"]
            for _ in range(requirement["count"]):
                body = {"check_type": check_type, "details": details}
                check = (await self.call(OFFICER, "POST", f"/mentors/{mentor}/checks", expect=201, json=body)).json()
                path = f"/checks/{check['id']}"
                for index in range(requirement["documents_required"]):
                    document = PDF + f"{check['id']}-{index}".encode()
                    files = {"file": (f"{check_type}-{index}.pdf", document, "application/pdf")}
                    await self.call(OFFICER, "POST", f"{path}/documents", expect=201, files=files)
                await self.move(OFFICER, path, "in_review")
                await self.move(SECOND_OFFICER if check_type in FOUR_EYES else OFFICER, path, "passed")
        proposal = {"action": "approve", "rationale": "Every required check passed and is current."}
        proposed = await self.call(OFFICER, "POST", f"/mentors/{mentor}/decisions", expect=201, json=proposal)
        await self.call(SECOND_OFFICER, "POST", f"/decisions/{proposed.json()['id']}/confirm")
        self.mentor = mentor

    async def complaint_and_refund(self) -> None:
        session = "session-ada-1"
        payment = {"mentee_id": MENTEE[1], "amount_minor": 4_500, "currency": "EUR"}
        await self.call(PLATFORM, "PUT", f"/sessions/{session}/payment", json=payment)
        filing = {"category": "billing", "description": "I was charged twice for one session", "session_id": session}
        complaint = (await self.call(MENTEE, "POST", "/complaints", expect=201, json=filing)).json()
        path = f"/complaints/{complaint['id']}"
        await self.move(AGENT, path, "acknowledged")
        await self.move(AGENT, path, "investigating")
        note = {"body": "The payment provider shows two charges.", "to_complainant": False}
        await self.call(AGENT, "POST", f"{path}/notes", expect=201, json=note)
        await self.move(AGENT, path, "resolved", outcome="upheld", remedies=["refund"], reasons="Charged twice")
        request = {"complaint_id": complaint["id"], "amount_minor": 4_500, "currency": "EUR", "reason": "double charge"}
        refund = await self.call(
            AGENT, "POST", "/refunds", expect=201, json=request, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        path = f"/refunds/{refund.json()['id']}"
        await self.move(SECOND_AGENT, path, "approved", reasons="The complaint was upheld")
        await self.move(PLATFORM, path, "issued", payment_reference="payout-0001")

    async def attestation_and_dispute(self) -> None:
        body = {
            "mentor_id": self.mentor,
            "candidate_id": CANDIDATE[1],
            "competency": "system-design",
            "score": 3,
            "rubric_version": "2026.1",
            "session_date": self.today,
            "token_sha256": hashlib.sha256(b"attestation token of mentee-bo").hexdigest(),
        }
        attestation = (await self.call(PLATFORM, "POST", "/attestations", expect=201, json=body)).json()
        claim = {"reason": "The score does not match the session", "evidence": ["recording-1"]}
        opened = await self.call(
            CANDIDATE, "POST", f"/attestations/{attestation['id']}/disputes", expect=201, json=claim
        )
        path = f"/disputes/{opened.json()['id']}"
        await self.move(AGENT, path, "decided", outcome="upheld", reasons="The rubric was applied as written")

    async def privacy_preferences(self) -> None:
        body = {
            "preferences": {"share_attestations_with_employers": "opt_in", "product_analytics": "opt_out"},
            "language": "en",
            "jurisdiction": "GB",
            "source": "web",
        }
        await self.call(MENTEE, "PUT", f"/privacy/mentees/{MENTEE[1]}/preferences", json=body)

    async def data_requests(self) -> None:
        access = (await self.call(MENTEE, "POST", "/privacy/requests", expect=201, json={"type": "access"})).json()
        path = f"/privacy/requests/{access['id']}"
        await self.move(OFFICER, path, "in_progress")
        await self.move(OFFICER, path, "completed")
        await self.call(MENTEE, "GET", f"{path}/export")
        filing = {"type": "erasure", "description": "Please erase my data"}
        erasure = (await self.call(MENTEE, "POST", "/privacy/requests", expect=201, json=filing)).json()
        path = f"/privacy/requests/{erasure['id']}"
        await self.move(OFFICER, path, "in_progress")
        await self.move(OFFICER, path, "completed")


async def record(data_dir: Path, out: Path) -> None:
    """Migrate a new deployment in ``data_dir``, run the workload, write its results to ``out``."""
    env = environment(data_dir)
    # Before the checkout is imported: its database configuration reads the environment.
    for name in [name for name in os.environ if name.startswith("GOVERNANCE_")]:
        del os.environ[name]
    os.environ.update(env)

    import httpx

    from governance.app import create_app
    from governance.cli import run_migrations
    from governance.settings import Settings

    settings = Settings.from_env()
    with contextlib.redirect_stdout(io.StringIO()):  # Piccolo reports each migration on stdout
        await run_migrations(settings)
    app = create_app(settings)
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await Workload(client, settings, env, out).run()
    import governance

    print(f"recorded into {out} by the code in {Path(governance.__file__).parent}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="where the export, the verifier key and the checkpoints go")
    parser.add_argument("--keep-data", action="store_true", help="keep the data directory (keys, database)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="governance-vector-"))
    try:
        asyncio.run(record(data_dir, args.out))
    finally:
        if args.keep_data:
            print(f"data directory kept: {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
