"""The period summary kept between requests: never served after a change, nor after a deadline passed.

The scenario lives in March 2014 (the clock is set back), where no other test writes. A
summary judged earlier is served while it is the truth, with the ``as_of`` it was judged
at; a change to a counted table (through the service or behind its back) and the passing
of an open complaint's deadline each make the next request judge it anew.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import msgspec

from governance.complaints import summary
from governance.complaints.tables import Complaint, Refund
from governance.core import cache, db
from governance.core.clock import ManualClock
from governance.core.identity import Identity
from governance.settings import Settings
from governance.web import sessions
from governance.web.config import Web

from .conftest import Api

PERIOD = "period_start=2014-03-01&period_end=2014-03-31"


async def _figures(api: Api) -> dict[str, Any]:
    response = await api.call("GET", f"/complaints/summary?{PERIOD}", "compliance_officer", "officer-cache")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _without_as_of(figures: dict[str, Any]) -> dict[str, Any]:
    return {**figures, "as_of": None}


async def _judged_now(now: datetime) -> dict[str, Any]:
    """The summary as a fresh count judges it at ``now``, as the route encodes it."""
    fresh = await summary.period_summary(date(2014, 3, 1), date(2014, 3, 31), now)
    return dict(msgspec.json.decode(msgspec.json.encode(fresh)))


async def test_a_change_shows_on_the_next_request_and_a_kept_summary_says_when_it_was_judged(
    api: Api, clock: ManualClock
) -> None:
    clock.set(datetime(2014, 3, 10, 12, tzinfo=UTC))
    first = await _figures(api)
    assert first["complaints_received"] == 0
    assert datetime.fromisoformat(first["as_of"]) == clock.now()

    # Nothing changed and no deadline passed: the summary judged a minute ago, saying so.
    clock.advance(timedelta(minutes=1))
    kept = await _figures(api)
    assert _without_as_of(kept) == _without_as_of(first)
    # SQLite keeps it (a counter row says nothing changed); PostgreSQL keeps it only while
    # the change notices are heard (the application's lifespan listens, the tests' does not).
    judged = first["as_of"] if db.is_sqlite() or cache.listening() else clock.now().isoformat()
    assert datetime.fromisoformat(kept["as_of"]) == datetime.fromisoformat(judged)

    # A complaint filed through the API: counted at once, judged now.
    complaint = await api.file("mentee-cache-1", category="billing")
    filed = await _figures(api)
    assert filed["complaints_received"] == 1 and filed["by_category"]["billing"] == 1
    assert filed == await _judged_now(clock.now())

    # A change the services never made (another process, a repair by hand): counted too.
    await Complaint.update({Complaint.category: "session_quality"}).where(Complaint.id == complaint["id"])
    repaired = await _figures(api)
    assert repaired["by_category"]["billing"] == 0 and repaired["by_category"]["session_quality"] == 1
    refunds = repaired["refunds"]["requested"]
    await Refund.delete().where(Refund.id.is_null())  # a statement that changes no row changes nothing
    assert (await _figures(api))["refunds"]["requested"] == refunds


async def test_a_deadline_passing_judges_the_summary_anew(api: Api, clock: ManualClock) -> None:
    clock.set(datetime(2014, 3, 17, 9, 30, tzinfo=UTC))
    complaint = await api.file("mentee-cache-2")
    before = await _figures(api)
    assert before["sla"]["breached"] == 0
    current = await api.call("GET", f"/complaints/{complaint['id']}", "support_agent", "agent-cache")
    resolve_due = datetime.fromisoformat(current.json()["sla"]["resolve_due"])

    # Past every deadline of the open complaint: judged, and breached, without any write.
    clock.set(resolve_due + timedelta(seconds=1))
    after = await _figures(api)
    assert datetime.fromisoformat(after["as_of"]) == clock.now()
    assert after["sla"]["breached"] > before["sla"]["breached"]
    assert after == await _judged_now(clock.now())


async def test_an_earlier_instant_is_never_answered_with_a_later_judgement(api: Api, clock: ManualClock) -> None:
    clock.set(datetime(2014, 3, 25, 12, tzinfo=UTC))
    later = await _figures(api)
    clock.set(datetime(2014, 3, 25, 11, tzinfo=UTC))
    earlier = await _figures(api)
    assert datetime.fromisoformat(earlier["as_of"]) == clock.now() < datetime.fromisoformat(later["as_of"])


async def test_the_page_shows_a_change_on_the_next_request(
    api: Api, client: httpx.AsyncClient, clock: ManualClock, settings: Settings
) -> None:
    clock.set(datetime(2014, 3, 28, 12, tzinfo=UTC))
    officer = Identity(sub="officer-cache-page", roles=("compliance_officer",))
    session = await sessions.open_session(
        Web.configure(settings), officer, clock.now(), kind=sessions.STAFF, method="token"
    )
    client.cookies.set("governance-session", session.secret)
    page = await client.get(f"/dashboard/complaints?{PERIOD}")
    assert page.status_code == 200, page.text
    received = await _figures(api)
    assert f'<span class="tile__figure">{received["complaints_received"]}</span>' in page.text
    await api.file("mentee-cache-3", category="billing")
    again = await client.get(f"/dashboard/complaints?{PERIOD}")
    assert f'<span class="tile__figure">{received["complaints_received"] + 1}</span>' in again.text


async def test_the_kept_content_of_the_page_is_one_per_language(
    api: Api, client: httpx.AsyncClient, clock: ManualClock, settings: Settings
) -> None:
    clock.set(datetime(2014, 3, 29, 12, tzinfo=UTC))
    officer = Identity(sub="officer-cache-lang", roles=("compliance_officer",))
    session = await sessions.open_session(
        Web.configure(settings), officer, clock.now(), kind=sessions.STAFF, method="token"
    )
    client.cookies.set("governance-session", session.secret)
    english = await client.get(f"/dashboard/complaints?{PERIOD}&lang=en")
    french = await client.get(f"/dashboard/complaints?{PERIOD}&lang=fr")
    again = await client.get(f"/dashboard/complaints?{PERIOD}&lang=en")
    assert "complaints received" in english.text and "complaints received" not in french.text
    assert again.text == english.text
