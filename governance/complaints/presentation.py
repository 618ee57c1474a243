"""How the complaint pages say things: states, moves and outcomes in words, where a case
stands against its deadline (time left on its clock, paused, overdue), durations from the
escalation policy, and the status a refused form answers with.

Labels are marked with ``N_`` and translated where shown (``_()`` in templates).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final, NamedTuple

from litestar.exceptions import HTTPException
from markupsafe import Markup, escape

from governance.complaints import business_hours, queue
from governance.complaints.config import Complaints
from governance.complaints.policy import Clock
from governance.complaints.schemas import ComplaintSummary, ComplaintView, DisputeSummary
from governance.web import macros
from governance.web.i18n import N_, active, format_datetime, gettext
from governance.web.rendering import marked_message

PAGE_SIZE: Final = 25
# A case whose deadline is nearer than this (counted time) shows as due soon.
DUE_SOON: Final = timedelta(hours=2)
CASE_HISTORY_LIMIT: Final = 200
RECENT_DISPUTES: Final = 10

STATE_LABELS: Final = {
    "received": N_("Received"),
    "acknowledged": N_("Acknowledged"),
    "investigating": N_("Under investigation"),
    "awaiting_complainant": N_("Waiting for the complainant"),
    "escalated": N_("Escalated to compliance"),
    "resolved": N_("Resolved"),
    "closed": N_("Closed"),
    "withdrawn": N_("Withdrawn"),
    "reopened": N_("Reopened (appeal)"),
}
# What the button that makes each move says, to staff and to the complainant.
MOVE_LABELS: Final = {
    "acknowledged": N_("Acknowledge"),
    "investigating": N_("Start investigating"),
    "awaiting_complainant": N_("Ask the complainant (pauses the clock)"),
    "escalated": N_("Escalate to compliance"),
    "resolved": N_("Resolve"),
    "closed": N_("Close"),
    "withdrawn": N_("Withdraw the complaint"),
    "reopened": N_("Reopen (appeal the outcome)"),
}
DISPUTE_MOVE_LABELS: Final = {
    "l2_review": N_("Escalate to compliance review (L2)"),
    "l3_review": N_("Escalate to the panel (L3)"),
    "withdrawn": N_("Withdraw the dispute"),
}
CATEGORY_LABELS: Final = {
    "session_quality": N_("Quality of a session"),
    "mentor_conduct": N_("A mentor's conduct"),
    "safeguarding": N_("Safeguarding (someone's safety)"),
    "billing": N_("Billing and payments"),
    "attestation": N_("An attestation"),
    "privacy": N_("Privacy"),
    "other": N_("Something else"),
}
SEVERITY_LABELS: Final = {
    "low": N_("Low"),
    "medium": N_("Medium"),
    "high": N_("High"),
    "critical": N_("Critical"),
}
OUTCOME_LABELS: Final = {
    "upheld": N_("Upheld"),
    "partially_upheld": N_("Partially upheld"),
    "not_upheld": N_("Not upheld"),
    "amended": N_("Amended"),
    "revoked": N_("Revoked"),
}
REMEDY_LABELS: Final = {
    "apology": N_("Apology"),
    "refund": N_("Refund"),
    "repeat_session": N_("Repeat session"),
    "attestation_review": N_("Attestation review"),
    "mentor_action": N_("Action about the mentor"),
    "explanation": N_("Explanation"),
}
REFUND_STATE_LABELS: Final = {
    "requested": N_("Requested"),
    "approved": N_("Approved"),
    "denied": N_("Denied"),
    "issued": N_("Paid out"),
    "failed": N_("Payout failed"),
}
ATTESTATION_STATUS_LABELS: Final = {
    "valid": N_("Valid"),
    "disputed": N_("Under dispute"),
    "amended": N_("Amended after a dispute"),
    "revoked": N_("Revoked"),
}
DISPUTE_STATE_LABELS: Final = {
    "l1_review": N_("Under support review (L1)"),
    "l2_review": N_("Under compliance review (L2)"),
    "l3_review": N_("Before a panel (L3)"),
    "decided": N_("Decided"),
    "revoked": N_("Attestation revoked"),
    "withdrawn": N_("Withdrawn"),
}
# The audit actions a case's timeline shows, in words.
ACTION_LABELS: Final = {
    "complaint.filed": N_("Complaint filed"),
    "complaint.transitioned": N_("Moved"),
    "complaint.escalated": N_("Escalated"),
    "complaint.note_added": N_("Note added"),
    "complaint.sla_breached": N_("SLA target missed"),
    "dispute.opened": N_("Dispute opened"),
    "dispute.escalated": N_("Escalated"),
    "dispute.appealed": N_("Appealed"),
    "dispute.vote_recorded": N_("Vote recorded"),
    "dispute.decided": N_("Decided"),
    "dispute.revoked": N_("Attestation revoked"),
    "dispute.withdrawn": N_("Withdrawn"),
    "dispute.sla_breached": N_("Decision deadline missed"),
    "dispute.read": N_("Read"),
    "refund.requested": N_("Refund requested"),
    "refund.approved": N_("Approved"),
    "refund.approval_recorded": N_("Approval recorded"),
    "refund.approval_refused": N_("Approval refused (four eyes)"),
    "refund.denied": N_("Denied"),
    "refund.issued": N_("Paid out"),
    "refund.failed": N_("Payout failed"),
}
LABELS: Final = {
    "state": STATE_LABELS,
    "move": MOVE_LABELS,
    "category": CATEGORY_LABELS,
    "severity": SEVERITY_LABELS,
    "outcome": OUTCOME_LABELS,
    "remedy": REMEDY_LABELS,
    "refund": REFUND_STATE_LABELS,
    "attestation": ATTESTATION_STATUS_LABELS,
    "dispute": DISPUTE_STATE_LABELS,
    "dispute_move": DISPUTE_MOVE_LABELS,
    "action": ACTION_LABELS,
}
# Moves a complainant makes with a button; answering a question is a reply, not a button.
COMPLAINANT_BUTTONS: Final = ("withdrawn", "closed", "reopened")


def labelled(labels: dict[str, str], values: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    translations = active().translations
    return [(value, str(translations.gettext(labels[value]))) for value in values]


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a case stands against its next deadline, in words and a badge tone."""

    label: str
    tone: str


def _hours(translations: Any, minutes: int) -> str:
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return str(translations.gettext(N_("%(hours)s h %(minutes)s min")) % {"hours": hours, "minutes": minutes})
    if hours:
        return str(translations.gettext(N_("%(hours)s h")) % {"hours": hours})
    return str(translations.gettext(N_("%(minutes)s min")) % {"minutes": minutes})


def _minutes(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds()) // 60)


def standing(
    complaints: Complaints,
    *,
    clock: Clock,
    state: str,
    breached: bool,
    due: datetime | None,
    now: datetime,
) -> Standing:
    """The queue's "time left": counted on the case's clock (business hours, or every hour),
    the clock shown paused while the case waits on the complainant, a breach said so."""
    translations = active().translations
    if due is None:
        if state == "awaiting_complainant":
            return _said(translations, N_("Clock paused: waiting for the complainant"), "info")
        if breached:
            return _said(translations, N_("Breached an SLA target"), "danger")
        return _said(translations, N_("No deadline pending"), "neutral")
    calendar = complaints.policy.clock(clock)
    business = clock == "business"
    if due <= now:
        late = business_hours.elapsed(calendar, due, now)
        words = N_("Overdue by %(time)s of business time") if business else N_("Overdue by %(time)s")
        return _timed(translations, words, _minutes(late), False, "danger")
    left = business_hours.elapsed(calendar, now, due)
    words = N_("%(time)s of business time left") if business else N_("%(time)s left")
    tone = "danger" if breached else "warning" if left <= DUE_SOON else "ok"
    return _timed(translations, words, _minutes(left), breached, tone)


# A queue says the same few standings on every row of every request: each is put into
# words once per catalog (catalogs are loaded once and never change), and its badge is
# then looked up by words that already know their hash (see queue_rows).
@lru_cache(maxsize=512)
def _said(translations: Any, words: str, tone: str) -> Standing:
    return Standing(str(translations.gettext(words)), tone)


@lru_cache(maxsize=4096)
def _timed(translations: Any, words: str, minutes: int, breached_before: bool, tone: str) -> Standing:
    prefix = str(translations.gettext(N_("Breached earlier; "))) if breached_before else ""
    time = _hours(translations, minutes)
    return Standing(prefix + str(translations.gettext(words)) % {"time": time}, tone)


def summary_standing(complaints: Complaints, item: ComplaintSummary, now: datetime) -> Standing:
    return standing(
        complaints,
        clock=complaints.policy.targets_for(item.category, item.severity).clock,
        state=item.state,
        breached=item.breached,
        due=item.next_due,
        now=now,
    )


def view_standing(complaints: Complaints, view: ComplaintView, now: datetime) -> Standing:
    sla = view.sla
    dues = [d for d in (sla.acknowledge_due, sla.first_response_due, sla.resolve_due) if d is not None]
    return standing(
        complaints,
        clock="business" if sla.clock == "business" else "calendar",
        state=view.state,
        breached=sla.breached,
        due=min(dues) if dues else None,
        now=now,
    )


def dispute_standing(complaints: Complaints, item: DisputeSummary, now: datetime) -> Standing:
    tier = complaints.policy.tiers[item.tier]
    return standing(complaints, clock=tier.clock, state=item.state, breached=False, due=item.decide_due, now=now)


def entry_standing(complaints: Complaints, entry: queue.Entry, now: datetime) -> Standing:
    if entry.complaint is not None:
        return summary_standing(complaints, entry.complaint, now)
    assert entry.dispute is not None  # an entry is one or the other
    return dispute_standing(complaints, entry.dispute, now)


class QueueRow(NamedTuple):
    """A complaint as the support queue lists it, each cell in the reader's language and as
    HTML: made here as the template's ``_()``, ``forms.badge`` and autoescaping make it. The
    row writes itself (see :meth:`__html__` and :class:`QueueRows`). A named tuple: a page
    makes 25 of them, and a frozen dataclass takes longer to make than its HTML."""

    id: str
    reference: str  # the id's first eight characters, how staff name a case aloud
    category: Markup
    time_left: Markup  # the standing, as a badge
    due: Markup  # "due <instant>", empty without a deadline pending
    state: Markup
    severity: Markup
    assignee: Markup
    received: Markup

    def __html__(self) -> str:
        """The row's ``<tr>``, as a Jinja loop over these cells wrote it; written here because
        that loop's lookups and escapes were most of the page's time, once per cell and row
        (``tests/complaints/test_queue_rows.py`` holds it to that loop's output)."""
        due = f'<br><span class="field__help">{self.due}</span>' if self.due else ""
        return (
            "<tr>\n"
            # An id is hex digits and hyphens: nothing in it to escape.
            f'      <th scope="row"><a href="/support/cases/{self.id}">{self.category}</a>\n'
            f'        <span class="case-ref">{self.reference}</span></th>\n'
            f"      <td>{self.time_left}{due}</td>\n"
            f"      <td>{self.state}</td>\n"
            f"      <td>{self.severity}</td>\n"
            f"      <td>{self.assignee}</td>\n"
            f"      <td>{self.received}</td>\n"
            "    </tr>"
        )


class QueueRows(list[QueueRow]):
    """A page of the queue's rows, written as one (``{{ rows }}`` in the table's body): a
    template loop over them costs more than writing them."""

    def __html__(self) -> str:
        return "\n    ".join([row.__html__() for row in self])


def queue_rows(listed: Iterable[tuple[ComplaintSummary, Standing]]) -> QueueRows:
    """The support queue's rows for complaints listed with their standing."""
    language = active()
    translations, tag = language.translations, language.tag
    shown = _shown(translations)
    categories, states, severities = shown["category"], shown["state"], shown["severity"]
    nobody = marked_message(translations, N_("Nobody yet"))
    rows = QueueRows()
    for item, standing in listed:
        case = str(item.id)
        rows.append(
            QueueRow(
                id=case,
                reference=case[:8],
                category=categories[item.category],
                time_left=_badge(standing.label, standing.tone),
                due=_due(translations, tag, item.next_due) if item.next_due else _NO_MARKUP,
                state=states[item.state],
                severity=severities[item.severity],
                assignee=escape(item.assignee) if item.assignee else nobody,
                received=_instant(tag, item.received_at),
            )
        )
    return rows


_NO_MARKUP: Final = Markup("")


@lru_cache(maxsize=16)
def _shown(translations: Any) -> dict[str, dict[str, Markup]]:
    """Every label of :data:`LABELS` as the templates write it, per catalog."""
    return {
        kind: {value: marked_message(translations, label) for value, label in labels.items()}
        for kind, labels in LABELS.items()
    }


@lru_cache(maxsize=4096)
def _badge(label: str, tone: str) -> Markup:
    return macros.badge(label, tone)


@lru_cache(maxsize=8192)
def _instant(tag: str, instant: datetime) -> Markup:
    """An instant for people (:func:`format_datetime`, in the language ``tag`` that is the
    active one), escaped as the template escapes it."""
    return escape(format_datetime(instant))


# Deadlines come back with every request: "due <instant>" is written once per language.
@lru_cache(maxsize=8192)
def _due(translations: Any, tag: str, due: datetime) -> Markup:
    translated = Markup(translations.gettext(N_("due %(when)s")))  # noqa: S704  # the catalog's text, as _() marks it
    return translated % {"when": format_datetime(due)} if "%" in translated else translated


def refusal_status(problem: HTTPException) -> int:
    """The status a refused form answers: a field's fault 422, a conflict or a refusal as is."""
    return 422 if problem.status_code == 400 else problem.status_code


_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


def duration_words(text: str | None, clock: str = "calendar") -> str:
    """``PT16H`` as "16 working hours" on a business clock, ``P3D`` as "3 days"."""
    if not text:
        return ""
    match = _ISO.match(text)
    if match is None:
        return text
    days, hours, minutes = (int(part) if part else 0 for part in match.groups())
    parts = []
    if days:
        parts.append(gettext(N_("%(n)s days"), n=days) if days != 1 else gettext(N_("1 day")))
    if hours:
        if clock == "business":
            parts.append(gettext(N_("%(n)s working hours"), n=hours) if hours != 1 else gettext(N_("1 working hour")))
        else:
            parts.append(gettext(N_("%(n)s hours"), n=hours) if hours != 1 else gettext(N_("1 hour")))
    if minutes:
        parts.append(gettext(N_("%(n)s minutes"), n=minutes))
    return " ".join(parts) or text
