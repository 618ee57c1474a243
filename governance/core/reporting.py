"""What more than one domain reports: a decision's reasons as an evidence bundle prints
them, and a mentor's attestation quality (complaints computes it, a vetting dossier shows it).

The domains declare their own register lines (``<domain>/reporting.py``); the evidence
bundle reads them. Only what more than one domain prints lives here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import msgspec

from governance.core.shapes import View

# What a reason reads once its data subject was erased (their key destroyed): the decision
# stays listed, its reasons are gone for good.
ERASED: Final = "[erased: the data subject's key was destroyed]"


class ReasonLine(msgspec.Struct, frozen=True):
    """One decision a register lists and why it was taken, as its decider wrote it."""

    record_id: str  # the mentor's external id, the check, complaint, refund or dispute id
    decision: str  # "approve (confirmed)", "waiver granted", "resolved: upheld", "L1: upheld", ...
    decided_by: str
    decided_at: datetime | None
    reasons: str  # plaintext, or ERASED


class AttestationQuality(View):
    """Leniency or severity against other mentors, and how this mentor's disputed attestations ended.

    ``leniency``: the mean, over ``comparisons``, of the mentor's score less the mean score
    other mentors gave the same candidate on the same template and version within
    ``window_days``; positive is lenient, negative severe. None ("not enough data") below
    ``minimum_comparisons``.
    """

    mentor_id: str
    window_days: int
    comparisons: int
    minimum_comparisons: int
    leniency: float | None
    disputed_attestations: int
    amended_or_revoked: int
    amended_or_revoked_share: float | None
