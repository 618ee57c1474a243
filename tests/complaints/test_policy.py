"""sla.toml: validated with errors naming the key; the published policy is rendered from it."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from governance.cli import main
from governance.complaints import policy as sla_policy
from governance.complaints import sla
from governance.complaints.policy import PolicyError, parse, published
from governance.settings import Settings

SLA_TOML = Path(__file__).resolve().parents[2] / "policies" / "sla.toml"


def _raw() -> dict[str, Any]:
    return tomllib.loads(SLA_TOML.read_text())


def test_the_shipped_policy_loads_and_publishes_what_it_configures() -> None:
    loaded = parse(_raw(), complaint_appeal_window=timedelta(days=30))
    view = published(loaded)
    assert view.escalated_immediately == ["safeguarding"]
    assert view.complaint_appeal_within == "P30D"
    critical = next(t for t in view.complaint_targets if t.severity == "critical" and t.category is None)
    assert (critical.clock, critical.acknowledge_within) == ("calendar", "PT1H")
    billing = next(t for t in view.complaint_targets if t.category == "billing")
    assert billing.resolve_within == "PT40H"
    assert loaded.targets_for("billing", "medium").resolve == timedelta(hours=40)
    assert loaded.targets_for("privacy", "medium").resolve == timedelta(hours=120)
    assert [t.decide_within for t in view.dispute_tiers] == ["PT40H", "PT80H", "PT120H"]
    assert [t.appeal_to for t in view.dispute_tiers] == ["L2", "L3", None]
    assert view.business_hours == "mon, tue, wed, thu, fri 09:00-17:00 Europe/London"
    assert view.external and view.external[0].within == "P6M"


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("calendar", "time_zone"), "Mars/Olympus", "calendar.time_zone"),
        (("calendar", "start"), "25:00", "calendar.start"),
        (("calendar", "working_days"), ["funday"], "calendar.working_days"),
        (("calendar", "holidays"), ["soon"], "calendar.holidays"),
        (("severity", "billing"), "urgent", "severity.billing"),
        (("complaints", "targets", "high", "resolve"), "P1M", "complaints.targets.high.resolve"),
        (("complaints", "targets", "low", "clock"), "sundial", "complaints.targets.low.clock"),
        (("complaints", "escalate_immediately"), ["gossip"], "complaints.escalate_immediately"),
    ],
)
def test_a_bad_value_is_refused_naming_the_key(path: tuple[str, ...], value: Any, named: str) -> None:
    raw = _raw()
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(PolicyError, match=named.replace(".", r"\.")):
        parse(raw, complaint_appeal_window=timedelta(days=30))


def test_tiers_must_be_the_three_in_order() -> None:
    raw = _raw()
    raw["disputes"]["tier"] = raw["disputes"]["tier"][:2]
    with pytest.raises(PolicyError, match=r"disputes\.tier"):
        parse(raw, complaint_appeal_window=timedelta(days=30))


def test_complaint_dues_pause_and_respect_the_final_response_limit() -> None:
    loaded = parse(_raw(), complaint_appeal_window=timedelta(days=30))
    monday_9 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # 09:00 in London (GMT) on a Monday
    common: dict[str, Any] = {
        "category": "privacy",
        "severity": "high",
        "received_at": monday_9,
        "started_at": monday_9,
        "met": (),
        "breached": (),
    }
    dues = sla.complaint_dues(loaded, pauses=[], paused=False, **common)
    assert dues.acknowledge == monday_9 + timedelta(hours=4)
    assert dues.first_response == monday_9 + timedelta(hours=8)
    assert dues.next == dues.acknowledge
    # A whole working day spent waiting on the complainant moves every deadline by a day.
    pause = (monday_9, monday_9 + timedelta(days=1))
    paused = sla.complaint_dues(loaded, pauses=[pause], paused=False, **common)
    assert paused.acknowledge == monday_9 + timedelta(days=1, hours=4)
    assert sla.complaint_dues(loaded, pauses=[], paused=True, **common) == sla.Dues()
    met = sla.complaint_dues(loaded, pauses=[], paused=False, **{**common, "met": ("acknowledge",)})
    assert met.acknowledge is None and met.next == met.first_response
    # Critical: calendar time, and never later than the final-response limit.
    critical = sla.complaint_dues(loaded, pauses=[pause] * 1, paused=False, **{**common, "severity": "critical"})
    assert critical.resolve is not None and critical.resolve <= monday_9 + loaded.final_response_limit
    assert dues.overdue(monday_9 + timedelta(hours=5)) == ["acknowledge"]


def test_the_cli_scan_runs_against_the_database(settings: Settings) -> None:
    result = CliRunner().invoke(main, ["complaints", "sla-scan"])
    assert result.exit_code == 0, result.output
    # The summary is the last line; a scan that flags something logs it first.
    assert result.output.splitlines()[-1].startswith("flagged ")


def test_the_cli_scan_names_a_broken_policy(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sla.toml").write_text("[calendar]\ntime_zone = 'Nowhere/Here'\n")
    monkeypatch.setenv("GOVERNANCE_POLICY_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["complaints", "sla-scan"])
    assert result.exit_code == 1
    assert "calendar.time_zone" in result.output


def test_loading_a_missing_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"sla\.toml"):
        sla_policy.load(tmp_path / "sla.toml", complaint_appeal_window=timedelta(days=1))
