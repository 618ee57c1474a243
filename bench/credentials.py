"""Credential benchmark: issuance next to bare Ed25519, verification, status-list updates.

- issue: an attestation's OpenBadgeCredential built and signed (RDFC-1.0 canonicalisation of
  the document and the proof options through pyld, two SHA-256, one Ed25519 signature),
  next to ``bare``: SHA-256 and Ed25519 over the same canonical bytes, computed beforehand.
  The ratio shows what canonicalisation costs.
- verify: the proof of each issued credential checked (canonicalise again, Ed25519 verify).
- status: 10,000 bits set, each as the dispute workflow sets it (its own transaction, the
  bit, its history row and its audit entry), then the served list rebuilt and signed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from harness import backend_arguments, median, out, rate, run_backends

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/governance_bench_credentials"


async def child_main(backend: str, repeats: int, credentials: int, bits: int) -> None:
    from governance.cli import run_migrations
    from governance.complaints.schemas import AttestationView
    from governance.core import db
    from governance.core.identity import Identity
    from governance.credentials import jsonld, proofs, service
    from governance.credentials.keys import load_issuer
    from governance.credentials.tables import IssuedCredential, IssuedRow
    from governance.settings import Settings

    settings = Settings.from_env()
    with contextlib.redirect_stdout(io.StringIO()):
        await run_migrations(settings)
    await db.start(settings)
    issuer = load_issuer(settings)
    now = datetime.now(UTC)

    def line(text: str) -> None:
        out(f"{backend:<9} {text}")

    def sample(n: int) -> tuple[AttestationView, IssuedRow]:
        view = AttestationView(
            id=uuid.uuid4(),
            mentor_id=str(uuid.uuid4()),
            candidate_id=f"candidate-{n}",
            competency="system-design",
            score=n % 5,
            rubric_version="2026.1",
            session_id=None,
            session_date=date(2026, 11, 1),
            token_sha256="0" * 64,
            status="valid",
            status_since=now,
            version=1,
            history=[],
        )
        row = IssuedRow(
            id=uuid.uuid4(),
            attestation_id=view.id,
            attestation_version=1,
            status_index=n,
            salt=f"{n:032x}",
            issued_at=now,
            replaces=None,
            revoked=False,
            suspended=False,
        )
        return view, row

    try:
        samples = [sample(n) for n in range(credentials)]
        issue_runs, bare_runs, verify_runs = [], [], []
        signed = []
        for _ in range(repeats):
            start = time.perf_counter()
            signed = [service.sign(issuer, service.document(issuer, v, r)) for v, r in samples]
            issue_runs.append(credentials / (time.perf_counter() - start))
            canonical = []
            for credential in signed:
                options = {k: v for k, v in credential["proof"].items() if k != "proofValue"}
                unsecured = {k: v for k, v in credential.items() if k != "proof"}
                canonical.append(
                    (
                        jsonld.canonicalize({**options, "@context": credential["@context"]}).encode(),
                        jsonld.canonicalize(unsecured).encode(),
                    )
                )
            start = time.perf_counter()
            for options_bytes, document_bytes in canonical:
                issuer.key.sign(hashlib.sha256(options_bytes).digest() + hashlib.sha256(document_bytes).digest())
            bare_runs.append(credentials / (time.perf_counter() - start))
            start = time.perf_counter()
            assert all(proofs.verify(c, issuer.resolve).ok for c in signed)
            verify_runs.append(credentials / (time.perf_counter() - start))
        issued, bare = median(issue_runs), median(bare_runs)
        line(f"issue    {rate(issued)}   bare Ed25519 {rate(bare)}   ratio {issued / bare:6.1%}")
        line(f"         runs issue {[f'{r:,.0f}' for r in issue_runs]} bare {[f'{r:,.0f}' for r in bare_runs]}")
        line(f"verify   {rate(median(verify_runs))}   runs {[f'{r:,.0f}' for r in verify_runs]}")

        # The status lists: ``bits`` credentials issued (bulk, outside the measure), then each bit set.
        rows = [
            IssuedCredential(
                id=uuid.uuid4(),
                attestation_id=uuid.uuid4(),
                attestation_version=1,
                status_index=n,
                salt="00",
                issued_at=now,
                replaces=None,
                revoked=False,
                suspended=False,
            )
            for n in range(bits)
        ]
        for chunk in range(0, bits, 500):
            async with db.transaction():
                await IssuedCredential.insert(*rows[chunk : chunk + 500])
        issued_rows = [
            IssuedRow(
                id=r.id,
                attestation_id=r.attestation_id,
                attestation_version=1,
                status_index=r.status_index,
                salt="00",
                issued_at=now,
                replaces=None,
                revoked=False,
                suspended=False,
            )
            for r in rows
        ]
        actor = Identity(sub="bench", roles=("compliance_officer",))
        start = time.perf_counter()
        for row in issued_rows:
            async with db.transaction():
                await service._set_bit(row, "suspension", True, actor, now)
        updates = bits / (time.perf_counter() - start)
        line(f"status   {rate(updates)}   bits set, each audited in its own transaction ({bits:,} bits)")
        list_runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            served = await service.status_list(issuer, "suspension", 0, 300)
            list_runs.append(time.perf_counter() - start)
        assert proofs.verify(served, issuer.resolve).ok
        line(f"list     {median(list_runs) * 1000:8.1f} ms to fold {bits:,} changes, encode and sign the served list")
    finally:
        await db.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    backend_arguments(parser)
    parser.add_argument("--credentials", type=int, default=300, help="credentials issued and verified per run")
    parser.add_argument("--bits", type=int, default=10_000, help="status bits changed")
    args = parser.parse_args(argv)
    if args.backend:
        asyncio.run(child_main(args.backend, args.repeats, args.credentials, args.bits))
        return 0
    return run_backends(
        Path(__file__).resolve(),
        args,
        title="credential benchmark",
        default_pg_url=DEFAULT_PG_URL,
        method=[
            f"{args.credentials:,} OpenBadgeCredentials issued and verified per run; {args.bits:,} status bits set;",
            f"issue/verify figures are the MEDIAN of {args.repeats} runs (listed on the 'runs' lines)",
        ],
        child_args=[f"--repeats={args.repeats}", f"--credentials={args.credentials}", f"--bits={args.bits}"],
        env_extra={"GOVERNANCE_SLA_SCAN_INTERVAL": "0", "GOVERNANCE_VETTING_EXPIRY_INTERVAL": "0"},
    )


if __name__ == "__main__":
    sys.exit(main())
