"""The access export is complete, typed and documented: real exports, built through the API,
validate against the JSON Schema committed in the repository, which is the one generated from
the export's Structs."""

from __future__ import annotations

import copy
import functools
import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from governance import wiring
from governance.bootstrap import Services
from governance.complaints import moves
from governance.core.clock import ManualClock
from governance.privacy import exports

from ..complaints.conftest import Api
from ..complaints.test_disputes import _attest
from ..complaints.test_disputes import _move as _move_dispute
from ..vetting.conftest import Vetting
from .conftest import SHARE, Privacy, new_mentee

SCHEMA_PATH = Path(exports.__file__).with_name(exports.SCHEMA_FILE)
OWN_NOTE = "Here is the receipt you asked for"
TO_ME = "We have found the double charge"
INTERNAL = "Complainant called twice; check the payment log first"
REFUND_REASON = "Charged twice for one session"


def _rfc3339(value: str) -> bool:
    parsed = datetime.fromisoformat(value)
    return "T" in value and parsed.tzinfo is not None


FORMATS = jsonschema.FormatChecker()
# A format constrains strings only; other types are the schema's "type" to judge.
FORMATS.checks("date-time", raises=ValueError)(lambda value: not isinstance(value, str) or _rfc3339(value))


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    """The committed schema, checked against the metaschema once (that check costs more than a validation)."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=FORMATS)


def _errors(document: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in _validator().iter_errors(document)]


async def _download(privacy: Privacy, client: httpx.AsyncClient, subject: str) -> dict[str, Any]:
    filed = await client.post(
        "/api/v1/privacy/requests", json={"type": "access", "mentee_id": subject}, headers=privacy.platform()
    )
    assert filed.status_code == 201, filed.text
    await privacy.complete(filed.json()["id"])
    download = await client.get(
        f"/api/v1/privacy/requests/{filed.json()['id']}/export", headers=privacy.officer("officer-b")
    )
    assert download.status_code == 200, download.text
    return dict(download.json())


async def _note(api: Api, complaint: dict[str, Any], role: str, sub: str, body: str, to_me: bool = False) -> None:
    sent = await api.call(
        "POST", f"/complaints/{complaint['id']}/notes", role, sub, {"body": body, "to_complainant": to_me}
    )
    assert sent.status_code == 201, sent.text


async def _mentee_with_everything(
    privacy: Privacy, api: Api, client: httpx.AsyncClient, clock: ManualClock, services: Services
) -> tuple[str, dict[str, Any]]:
    """A mentee with consent changes, a retention choice, a complaint paused and breached with
    every kind of note, a paid session and a refund, a disputed attestation and a rejected request."""
    mentee = new_mentee()
    await privacy.choose(mentee, **{SHARE: "opt_in"})
    assert (await privacy.put(mentee, gpc=True, retention={"data_exports": "P7D"})).status_code == 200
    complaint = await api.file(sub=mentee, category="billing", description="Charged twice", session_id=f"s-{mentee}")
    for to in ("acknowledged", "investigating", "awaiting_complainant"):
        assert (await api.move(complaint, to)).status_code == 200
    clock.advance(timedelta(days=1))
    await _note(api, complaint, "mentee", mentee, OWN_NOTE)  # resumes the clock: one closed pause
    await _note(api, complaint, "support_agent", "agent-1", TO_ME, to_me=True)
    await _note(api, complaint, "support_agent", "agent-1", INTERNAL)
    clock.advance(timedelta(days=60))
    # What the SLA scan does to each overdue complaint, done to this one: the scan itself would
    # also flag every complaint earlier tests left open (the database lives for the whole run),
    # a thousand or so by the time this runs in the whole suite, each in its own transactions.
    assert await moves.flag_overdue(uuid.UUID(complaint["id"]), services.complaints.policy, clock.now()) == 1

    await api.paid(f"s-{mentee}", mentee, 5_000)
    refund = await api.call(
        "POST",
        "/refunds",
        "support_agent",
        "agent-1",
        {"session_id": f"s-{mentee}", "amount_minor": 500, "currency": "EUR", "reason": REFUND_REASON},
        {"Idempotency-Key": f"refund-{mentee}"},
    )
    assert refund.status_code == 201, refund.text

    attestation = await _attest(api, "mentor-export", mentee)
    opened = await api.call(
        "POST", f"/attestations/{attestation['id']}/disputes", "mentee", mentee, {"reason": "Wrong", "evidence": ["e1"]}
    )
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert (
        await _move_dispute(api, dispute, "decided", "support_agent", "agent-1", outcome="upheld")
    ).status_code == 200
    assert (await _move_dispute(api, dispute, "l2_review", "mentee", mentee)).status_code == 200
    decided = await _move_dispute(api, dispute, "decided", "compliance_officer", "officer-1", outcome="upheld")
    assert decided.status_code == 200, decided.text
    assert (await _move_dispute(api, dispute, "l3_review", "mentee", mentee)).status_code == 200
    vote = await _move_dispute(api, dispute, "revoked", "compliance_officer", "officer-2")
    assert vote.status_code == 200 and len(vote.json()["votes"]) == 1, vote.text

    rejected = await privacy.file(mentee, "rectification", description="Fix my name")
    moved = await privacy.move(rejected["id"], "rejected", reason_code="other", reason="Nothing to fix")
    assert moved.status_code == 200, moved.text
    return mentee, {"complaint": complaint, "refund": refund.json(), "dispute": dispute, "attestation": attestation}


@pytest.fixture(scope="module")
def exported() -> dict[str, tuple[str, dict[str, Any], dict[str, Any]]]:
    """The module's mentee with everything and their export, once made (see ``everything``)."""
    return {}


@pytest.fixture
async def everything(
    exported: dict[str, tuple[str, dict[str, Any], dict[str, Any]]],
    services: Services,
    privacy: Privacy,
    api: Api,
    client: httpx.AsyncClient,
    clock: ManualClock,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A mentee with everything, what was made for them, and their access export as downloaded:
    made through the API by the module's first test that asks, and read by the others (each gets
    its own copy; making it is most of what these tests cost)."""
    if "mentee" not in exported:
        mentee, made = await _mentee_with_everything(privacy, api, client, clock, services)
        exported["mentee"] = (mentee, made, await _download(privacy, client, mentee))
    return copy.deepcopy(exported["mentee"])


async def test_a_mentees_export_holds_every_record_typed_and_validates_against_the_committed_schema(
    everything: tuple[str, dict[str, Any], dict[str, Any]],
) -> None:
    mentee, made, export = everything

    assert _errors(export) == []
    assert export["$schema"] == exports.SCHEMA_ID == json.loads(SCHEMA_PATH.read_text())["$id"]
    modules = export["modules"]
    [complaint] = modules["complaints"]["complaints"]
    assert complaint["id"] == made["complaint"]["id"]
    sla = complaint["sla"]
    assert isinstance(sla["pauses"], list) and len(sla["pauses"]) == 1, "pauses are a list, not JSON in a string"
    assert _rfc3339(sla["pauses"][0]["started_at"]) and _rfc3339(sla["pauses"][0]["ended_at"])
    assert isinstance(sla["breaches"], list) and sla["breaches"], "breaches are a list, not JSON in a string"
    assert sla["breached"] is True
    notes = {n["body"]: n for n in complaint["notes"]}
    assert set(notes) == {OWN_NOTE, TO_ME, INTERNAL}, "the mentee's own note and staff's notes are all there"
    assert (notes[OWN_NOTE]["author"], notes[OWN_NOTE]["internal"]) == (mentee, False)
    assert (notes[TO_ME]["to_complainant"], notes[TO_ME]["internal"]) == (True, False)
    assert notes[INTERNAL]["internal"] is True
    assert [e["to_state"] for e in complaint["history"]][:4] == [
        "received",
        "acknowledged",
        "investigating",
        "awaiting_complainant",
    ]
    assert isinstance(complaint["remedies"], list)

    [payment] = modules["complaints"]["session_payments"]
    assert (payment["session_id"], payment["amount_minor"]) == (f"s-{mentee}", 5_000)
    [refund] = modules["complaints"]["refunds"]
    assert (refund["id"], refund["reason"], refund["approved_by"]) == (made["refund"]["id"], REFUND_REASON, [])
    [attestation] = modules["complaints"]["attestations"]
    assert [s["status"] for s in attestation["status_history"]][:2] == ["valid", "disputed"]
    [dispute] = modules["complaints"]["disputes"]
    assert (dispute["reason"], dispute["evidence"]) == ("Wrong", ["e1"])
    assert [d["tier"] for d in dispute["decisions"]] == ["L1", "L2"]
    assert all(isinstance(r, str) for d in dispute["decisions"] for r in d["reasons"])
    [vote] = dispute["votes"]
    assert (vote["decider"], vote["internal"]) == ("officer-2", True)
    assert dispute["tier_deciders"] == {"L1": ["agent-1"], "L2": ["officer-1"]}

    privacy_part = modules["privacy"]
    assert [r["method"] for r in privacy_part["consent_history"]] == ["explicit", "gpc"]
    assert all(isinstance(r["receipt"], dict) for r in privacy_part["consent_receipts"])
    assert [(c["category"], c["period"]) for c in privacy_part["retention_choices"]] == [("data_exports", "P7D")]
    requests = {r["type"]: r for r in privacy_part["data_requests"]}
    assert (requests["rectification"]["description"], requests["rectification"]["rejection_reason"]) == (
        "Fix my name",
        "Nothing to fix",
    )
    [stored] = modules["core"]["stored_responses"]
    assert (stored["scope"], stored["record_id"]) == ("refunds.create", made["refund"]["id"])
    assert stored["response"]["reason"] == REFUND_REASON, "the stored copy, decrypted"
    assert all(_rfc3339(e["time"]) for e in export["audit_entries"])


async def test_a_mentors_export_validates_and_holds_their_vetting_file(
    privacy: Privacy, client: httpx.AsyncClient, vetting: Vetting
) -> None:
    mentor = await vetting.register(f"ext-{new_mentee()}")
    check = await vetting.record(mentor["id"], "background_check", notes="Officer's own remark")
    assert (await vetting.upload(check["id"])).status_code == 201
    export = await _download(privacy, client, mentor["id"])

    assert _errors(export) == []
    vetting_part = export["modules"]["vetting"]
    assert vetting_part["mentor"]["display_name"] == f"Mentor {mentor['external_id']}"
    assert vetting_part["mentor"]["specialties"] == ["interview practice"]
    [exported] = vetting_part["checks"]
    assert isinstance(exported["details"], dict) and exported["details"]["issuing_body"] == "DBS"
    assert exported["notes"] == "Officer's own remark"
    assert [d["filename"] for d in vetting_part["documents"]] == ["evidence.pdf"]


@pytest.mark.parametrize(
    ("path", "as_text"),
    [
        (("modules", "complaints", "complaints", 0, "sla", "pauses"), True),
        (("modules", "complaints", "complaints", 0, "sla", "breaches"), True),
        (("modules", "complaints", "disputes", 0, "decisions"), True),
        (("modules", "privacy", "consent_receipts", 0, "receipt"), True),
        (("modules", "complaints", "complaints", 0, "received_at"), False),
    ],
)
async def test_the_schema_refuses_json_inside_a_string_and_times_without_an_offset(
    everything: tuple[str, dict[str, Any], dict[str, Any]], path: tuple[Any, ...], as_text: bool
) -> None:
    _, _, export = everything
    broken = copy.deepcopy(export)
    holder = broken
    for step in path[:-1]:
        holder = holder[step]
    value = holder[path[-1]]
    # What the old export did to nested lists, and a local time without its offset.
    holder[path[-1]] = json.dumps(value) if as_text else value.replace("+00:00", "").replace("Z", "")
    assert _errors(export) == []
    assert _errors(broken), f"{'/'.join(map(str, path))} altered must not validate"


def test_the_committed_schema_is_the_one_generated_from_the_export_structs() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == wiring.schema_text(), (
        "regenerate: python -c 'from governance import wiring; "
        'open("governance/privacy/export.schema.json", "w").write(wiring.schema_text())\''
    )
    assert wiring.published_schema() == wiring.schema_text(), "shipped with the package"
    schema = wiring.schema()
    assert (schema["$id"], schema["title"]) == (exports.SCHEMA_ID, "Access export of one data subject")
    modules = schema["$defs"]["ExportModules"]["properties"]
    assert set(modules) == {"privacy", "vetting", "complaints", "core"}


def test_every_registered_module_has_its_place_in_the_document() -> None:
    from governance.wiring import subject_registry as registry

    registered = {provider.module for provider in registry(None, None).providers}  # type: ignore[arg-type]
    assert registered <= set(wiring.ExportModules.__struct_fields__)
