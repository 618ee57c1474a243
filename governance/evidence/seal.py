"""The seal of a bundle: its contents' digest, committed to the log before the PDF is rendered.

Why a seal and not only the ready entry: the ``evidence.bundle.ready`` entry records the
SHA-256 of the PDF and of ``manifest.json``, so neither file can carry the proof of that
entry (it would change the hash it proves). So the job first records an
``evidence.bundle.sealed`` entry naming the bundle and the SHA-256 of its contents (what
the PDF and the manifest both present: :class:`~governance.evidence.schemas.ManifestContents`),
waits for the entry's number and a checkpoint covering it, and prints that entry's
tlog-proof in the PDF and the manifest. The ready entry then records the files' hashes and
the seal's number; its own proof is served beside the files.

Checking a manifest needs no database and no network (:func:`verify_manifest`): only the
log's verifier key, and the witnesses' keys for a witnessed proof.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from governance.audit import proof_file
from governance.audit.cosignature import CosignerKey
from governance.audit.leaf import canonical_json
from governance.audit.note import VerifierKey
from governance.evidence.schemas import ManifestContents

ACTION: Final = "evidence.bundle.sealed"
READY: Final = "evidence.bundle.ready"
RESOURCE: Final = "evidence_bundle"
# The members of manifest.json written after the seal, so outside what it binds.
UNSEALED: Final = ("pdf", "seal")


def contents_sha256(manifest: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a manifest (decoded) without ``pdf`` and ``seal``."""
    sealed = {name: value for name, value in manifest.items() if name not in UNSEALED}
    return hashlib.sha256(canonical_json(sealed).encode()).hexdigest()


def digest_of(contents: ManifestContents) -> str:
    """The digest the seal records for contents about to be rendered and stored."""
    return contents_sha256(msgspec.json.decode(msgspec.json.encode(contents)))


@dataclass(slots=True)
class ManifestCheck:
    """What checking a manifest's seal found: ``problems`` empty means it holds."""

    problems: list[str] = field(default_factory=list)
    proven: proof_file.ProvenEntry | None = None
    contents_sha256: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_manifest(
    data: bytes,
    vkey: str | VerifierKey,
    witnesses: Sequence[CosignerKey] = (),
    *,
    quorum: int | None = None,
    pdf: bytes | None = None,
    ready_proof: str | None = None,
) -> ManifestCheck:
    """Check offline that ``manifest.json`` (its bytes) is sealed in the log: its seal's proof
    holds under ``vkey`` (and the witnesses), its entry is the ``evidence.bundle.sealed``
    entry of this bundle, and that entry records the digest of these very contents.

    With ``pdf``, its SHA-256 must be the manifest's; with ``ready_proof`` (the bundle's
    ``/proof``), the ``evidence.bundle.ready`` entry it proves must record the SHA-256 of
    both files and the seal's number."""
    check = ManifestCheck()
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        check.problems.append(f"manifest.json is not JSON: {exc}")
        return check
    if not isinstance(manifest, dict):
        check.problems.append("manifest.json is not a JSON object")
        return check
    check.contents_sha256 = contents_sha256(manifest)
    seal = manifest.get("seal")
    if not isinstance(seal, dict) or not isinstance(seal.get("proof"), str):
        check.problems.append("manifest.json has no seal (made before bundles were sealed?)")
        return check
    try:
        proven = proof_file.verify(seal["proof"], vkey, witnesses=witnesses, quorum=quorum)
    except ValueError as exc:  # ProofError, or a malformed key
        check.problems.append(f"the seal's proof does not hold: {exc}")
        return check
    check.proven = proven
    check.problems.extend(_entry_problems(proven.entry, manifest.get("bundle_id"), check.contents_sha256))
    if seal.get("entry_seq") != proven.index:
        check.problems.append(f"the seal says entry {seal.get('entry_seq')!r}, its proof is of entry {proven.index}")
    described = manifest.get("pdf")
    if not isinstance(described, dict):
        described = {}
    if pdf is not None and hashlib.sha256(pdf).hexdigest() != described.get("sha256"):
        check.problems.append("the PDF given is not the one manifest.json describes (its SHA-256 differs)")
    if ready_proof is not None:
        check.problems.extend(
            _ready_problems(ready_proof, vkey, witnesses, quorum, manifest, hashlib.sha256(data).hexdigest(), proven)
        )
    return check


def _ready_problems(
    text: str,
    vkey: str | VerifierKey,
    witnesses: Sequence[CosignerKey],
    quorum: int | None,
    manifest: dict[str, Any],
    manifest_sha256: str,
    sealed: proof_file.ProvenEntry,
) -> list[str]:
    """Whether the ready entry's proof holds and binds these files to this seal."""
    try:
        proven = proof_file.verify(text, vkey, witnesses=witnesses, quorum=quorum)
    except ValueError as exc:
        return [f"the ready entry's proof does not hold: {exc}"]
    entry = json.loads(proven.entry)
    details, resource = entry.get("details") or {}, entry.get("resource") or {}
    problems = []
    if entry.get("action") != READY or resource.get("id") != manifest.get("bundle_id"):
        problems.append(f"the ready proof is of {entry.get('action')!r} for {resource.get('id')!r}, not this bundle's")
    if details.get("manifest_sha256") != manifest_sha256:
        problems.append("the ready entry records another manifest.json (its SHA-256 differs)")
    if details.get("pdf_sha256") != (manifest.get("pdf") or {}).get("sha256"):
        problems.append("the ready entry records another PDF than manifest.json describes")
    if details.get("sealed_seq") != sealed.index:
        problems.append(f"the ready entry names seal {details.get('sealed_seq')!r}, not entry {sealed.index}")
    return problems


def _entry_problems(entry: bytes, bundle_id: object, digest: str) -> list[str]:
    """Whether the proven entry is this bundle's seal, of these contents."""
    try:
        decoded = json.loads(entry)
    except ValueError:
        return ["the proven entry is not one of this log's entries (not JSON)"]
    resource = decoded.get("resource") or {}
    details = decoded.get("details") or {}
    problems = []
    if decoded.get("action") != ACTION:
        problems.append(f"the proven entry is {decoded.get('action')!r}, not {ACTION}")
    if resource.get("type") != RESOURCE or resource.get("id") != bundle_id:
        problems.append(f"the proven entry seals bundle {resource.get('id')!r}, not this one ({bundle_id!r})")
    if details.get("contents_sha256") != digest:
        problems.append(
            f"the log sealed contents {details.get('contents_sha256')!r}; this manifest's contents hash to "
            f"{digest}: a figure, an artifact or the checkpoint was changed"
        )
    return problems
