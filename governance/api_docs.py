"""What the API document says that the handlers' signatures cannot.

:mod:`governance.core.openapi` derives most of the document from the handlers (errors every
authenticated, parameterised or versioned operation can answer, security, summaries). This
table adds, per operation, the rest: the domain's own refusals (409 when the record's state
forbids the request, 422 when its rules do), headers a handler reads from the request
itself, and responses a handler builds by hand (files, redirects, 202 and 304). Keys are
``"METHOD <path template as the document spells it>"``; a test checks that each names a real
operation.
"""

from __future__ import annotations

from typing import Final

from litestar.openapi.config import OpenAPIConfig

from governance.core import idempotency, limits
from governance.core.openapi import Documented, file_response, header_parameter, json_response
from governance.core.openapi import openapi_config as _openapi_config

_KEY_SCHEMA: Final = {
    "type": "string",
    "minLength": 1,
    "maxLength": idempotency.MAX_KEY_LENGTH,
    "pattern": "^[\\x21-\\x7e]+$",
}


def _idempotency_key(required: bool) -> dict[str, object]:
    return header_parameter(
        idempotency.HEADER,
        "A key of your choice, unique per request: a retry with the same key and body returns the first "
        "answer (with `Idempotent-Replayed: true`)." + ("" if required else " Optional."),
        _KEY_SCHEMA,
        required=required,
    )


# Longer query values are refused: no purpose or duration is this long.
_MAX_QUERY: Final = limits.MAX_IDENTIFIER
_IN_PROGRESS: Final = "a request with this `Idempotency-Key` is still being processed"
_IDEMPOTENCY_MISMATCH: Final = "This `Idempotency-Key` was used with another body."
_SEC_GPC: Final = header_parameter(
    "Sec-GPC",
    "Global Privacy Control: `1` opts the mentee out of every sharing purpose (method `gpc`); any other "
    "value is ignored.",
    {"type": "string"},
)

FACTS: Final[dict[str, Documented]] = {
    "GET /ready": Documented(errors={503: "The database is unreachable."}),
    "GET /api/v1/attestations/{attestation_id}/status": Documented(
        errors={429: "Too many checks from this client address: try again after `Retry-After` seconds."}
    ),
    "GET /api/v1/audit/checkpoint": Documented(errors={404: "No checkpoint has been signed yet."}),
    # --- vetting ---
    "POST /api/v1/mentors": Documented(errors={409: "A mentor with this `external_id` is already registered."}),
    "GET /api/v1/mentors/{mentor_id}/dossier": Documented(
        parameters=[
            header_parameter("If-None-Match", "The `ETag` of the dossier as last read.", {"type": "string"}),
        ],
        responses={
            200: {
                **json_response("The dossier.", "Dossier"),
                "headers": {"ETag": {"description": "The dossier's version.", "schema": {"type": "string"}}},
            },
            304: {"description": "Unchanged since the `ETag` sent in `If-None-Match`."},
        },
    ),
    "POST /api/v1/mentors/{mentor_id}/checks": Documented(
        errors={409: "The mentor was revoked, or the check type is no longer in the requirements."}
    ),
    "POST /api/v1/mentors/{mentor_id}/decisions": Documented(
        parameters=[_idempotency_key(required=False)],
        errors={
            409: "The mentor's status does not allow this decision (`allowed` lists those it does), their "
            f"requirements are not met (`missing`), or {_IN_PROGRESS}.",
            422: _IDEMPOTENCY_MISMATCH,
        },
    ),
    "POST /api/v1/mentors/{mentor_id}/ratings": Documented(
        errors={409: "This session was rated already.", 422: "The session has not taken place yet."}
    ),
    "GET /api/v1/vetting/expiring": Documented(
        parameters=[
            {
                "name": "within",
                "in": "query",
                "required": False,
                "description": "ISO 8601 duration, e.g. P30D.",
                # As governance.core.durations reads one.
                "schema": {
                    "type": "string",
                    "default": "P30D",
                    "maxLength": _MAX_QUERY,
                    "pattern": "^P(?!$)([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?"
                    "(T(?=[0-9])([0-9]+H)?([0-9]+M)?([0-9]+(\\.[0-9]{1,6})?S)?)?$",
                },
            }
        ]
    ),
    "POST /api/v1/checks/{check_id}/transitions": Documented(
        responses={
            200: json_response("Moved.", "TransitionOutcome"),
            202: json_response("Waiver asked for: a second compliance officer must grant it.", "TransitionOutcome"),
        },
        errors={
            409: "The check's state does not allow this move, or the check changed meanwhile.",
            422: "Passing needs evidence the requirements name; `missing` lists it.",
        },
    ),
    "POST /api/v1/checks/{check_id}/documents": Documented(
        errors={409: "The check is closed to evidence, or holds this document already."}
    ),
    "GET /api/v1/documents/{document_id}": Documented(
        responses={
            200: file_response(
                "The document as uploaded.",
                ["application/pdf", "image/png", "image/jpeg"],
                {"Repr-Digest": "Its SHA-256 (RFC 9530).", "Content-Disposition": "`attachment` with its file name."},
            )
        }
    ),
    "POST /api/v1/decisions/{decision_id}/confirm": Documented(
        parameters=[_idempotency_key(required=False)],
        responses={200: json_response("Confirmed: the decision took effect.", "DecisionView")},
        errors={409: f"The decision is not awaiting confirmation, or {_IN_PROGRESS}."},
    ),
    "POST /api/v1/decisions/{decision_id}/reject": Documented(
        parameters=[_idempotency_key(required=False)],
        responses={200: json_response("Rejected: the proposal is closed and changes nothing.", "DecisionView")},
        errors={409: f"The decision is no longer a proposal, or {_IN_PROGRESS}."},
    ),
    "POST /api/v1/decisions/{decision_id}/withdraw": Documented(
        parameters=[_idempotency_key(required=False)],
        responses={200: json_response("Withdrawn by its proposer: closed, changing nothing.", "DecisionView")},
        errors={409: f"The decision is no longer a proposal, or {_IN_PROGRESS}."},
    ),
    # --- privacy ---
    "POST /api/v1/privacy/portal-sessions": Documented(
        errors={422: "The return URL is not under one the deployment allows (`GOVERNANCE_PORTAL_RETURN_URLS`)."}
    ),
    "GET /api/v1/privacy/mentees/{mentee_id}/preferences": Documented(parameters=[_SEC_GPC]),
    "PUT /api/v1/privacy/mentees/{mentee_id}/preferences": Documented(parameters=[_SEC_GPC]),
    "GET /api/v1/privacy/mentees/{mentee_id}/permissions": Documented(
        parameters=[
            {
                "name": "purpose",
                "in": "query",
                "required": True,
                "description": "The purpose to check, e.g. `share_attestations_with_employers`.",
                "schema": {"type": "string", "minLength": 1, "maxLength": _MAX_QUERY, "pattern": limits.PRINTABLE},
            }
        ]
    ),
    "POST /api/v1/privacy/requests/{request_id}/transitions": Documented(
        errors={
            409: "The request's state does not allow this move (the allowed ones are listed), or the extension "
            "comes too late or twice.",
            422: "An extension or a rejection lacks what it needs (length, reason, reason code).",
        }
    ),
    "GET /api/v1/privacy/requests/{request_id}/export": Documented(
        responses={
            200: {
                "description": "The export: everything every module holds about the mentee.",
                "headers": {"Content-Disposition": {"description": "`attachment`.", "schema": {"type": "string"}}},
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
        errors={410: "The export file is no longer in storage; file a new access request."},
    ),
    # --- evidence ---
    "POST /api/v1/evidence/bundles": Documented(
        parameters=[_idempotency_key(required=False)],
        errors={409: f"A{_IN_PROGRESS[1:]}.", 422: _IDEMPOTENCY_MISMATCH},
    ),
    "POST /api/v1/evidence/bundles/{bundle_id}/retry": Documented(errors={409: "The bundle has not failed."}),
    "GET /api/v1/evidence/bundles/{bundle_id}/download": Documented(
        responses={
            200: file_response(
                "The file, streamed.",
                ["application/pdf", "application/json"],
                {"Repr-Digest": "Its SHA-256 (RFC 9530).", "Content-Disposition": "`attachment` with its file name."},
            ),
            303: {
                "description": "Bundles in S3: a short-lived presigned URL to fetch the file from.",
                "headers": {"Location": {"description": "The presigned URL.", "schema": {"type": "string"}}},
            },
        },
        errors={
            409: "The bundle is not ready.",
            410: "The file is no longer in the store.",
            503: "The object store cannot be reached.",
        },
    ),
    # --- complaints, refunds, attestations, disputes ---
    "POST /api/v1/complaints/{complaint_id}/transitions": Documented(
        errors={409: "The complaint's state does not allow this move; `allowed_next` lists those it does."}
    ),
    "PUT /api/v1/sessions/{session_id}/payment": Documented(
        errors={409: "The payment for this session was already reported with other values."}
    ),
    "POST /api/v1/refunds": Documented(
        parameters=[_idempotency_key(required=True)],
        responses={
            201: {
                **json_response("Requested.", "RefundView"),
                "headers": {
                    "ETag": {"description": "The refund's version.", "schema": {"type": "string"}},
                    idempotency.REPLAYED_HEADER: {
                        "description": "`true` when this is the stored answer to an earlier request.",
                        "schema": {"type": "string"},
                    },
                },
            }
        },
        errors={
            409: f"Nothing is left to refund, no payment was reported for the session, or {_IN_PROGRESS}.",
            422: _IDEMPOTENCY_MISMATCH,
        },
    ),
    "POST /api/v1/refunds/{refund_id}/transitions": Documented(
        errors={409: "The refund's state does not allow this move; `allowed_next` lists those it does."}
    ),
    "POST /api/v1/attestations": Documented(
        errors={
            409: "An attestation with this id is already recorded.",
            422: "No attestation template has this competency and version, or the score lies off its scale.",
        }
    ),
    "POST /api/v1/attestations/{attestation_id}/disputes": Documented(
        errors={409: "The attestation is revoked, or already under dispute."}
    ),
    "POST /api/v1/disputes/{dispute_id}/transitions": Documented(
        errors={409: "The dispute's state does not allow this move; `allowed_next` lists those it does."}
    ),
}


def openapi_config(version: str) -> OpenAPIConfig:
    """The service's OpenAPI configuration: the document at ``/schema/openapi.json``, Swagger UI at ``/schema``."""
    return _openapi_config(
        title="governance",
        version=version,
        description="Compliance and governance back office for micro-mentoring platforms.",
        facts=FACTS,
    )
