"""Policy files decoded by msgspec: every error names the file, the key path and the problem."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from governance.complaints import policy as sla_policy
from governance.core import policyfiles
from governance.core.durations import Duration
from governance.privacy.policy import PolicyError, load_privacy, load_retention
from governance.vetting import requirements

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def _edited(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """The shipped ``name`` with the one text ``old`` replaced by ``new``, written to tmp_path."""
    text = (POLICIES / name).read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {name}"
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return path


def test_a_privacy_file_with_a_bad_value_names_the_file_the_key_and_what_it_must_be(tmp_path: Path) -> None:
    marketing = '[purposes.marketing]\ntitle = "Marketing"\nlawful_basis = "consent"'
    path = _edited(tmp_path, "privacy.toml", marketing, marketing.replace('"consent"', '"because"'))
    with pytest.raises(PolicyError) as caught:
        load_privacy(path)
    assert str(caught.value).startswith(f"{path}: purposes.marketing.lawful_basis must be one of consent, ")


def test_a_yes_or_no_written_as_text_is_refused_not_read_as_true(tmp_path: Path) -> None:
    # Before the files were decoded into typed shapes, bool("no") made this category shortenable.
    files = 'from = "the complaint\'s closure"\nmentee_may_shorten = false'
    path = _edited(tmp_path, "retention.toml", files, files.replace("false", '"no"'))
    with pytest.raises(PolicyError, match=r"categories\.complaint_files\.mentee_may_shorten must be true or false"):
        load_retention(path)

    recording = 'title = "Session recording"\nlawful_basis = "consent"\ndefault = "opt_in"\nsharing = false'
    path = _edited(tmp_path, "privacy.toml", recording, recording.replace("false", '"no"'))
    with pytest.raises(PolicyError, match=r"purposes\.session_recording\.sharing must be true or false"):
        load_privacy(path)


def test_a_retention_period_that_is_no_duration_names_its_category(tmp_path: Path) -> None:
    exports = '[categories.data_exports]\nperiod = "P30D"'
    path = _edited(tmp_path, "retention.toml", exports, exports.replace("P30D", "thirty days"))
    with pytest.raises(PolicyError, match=r"retention\.toml: categories\.data_exports\.period: 'thirty days' is not"):
        load_retention(path)


def test_a_missing_key_is_named_with_the_entry_it_belongs_to(tmp_path: Path) -> None:
    marketing = 'sharing = true\nvalidity = "P1Y"\n\n[[purposes.marketing.notices]]'
    path = _edited(tmp_path, "privacy.toml", marketing, marketing.replace('validity = "P1Y"\n', ""))
    with pytest.raises(PolicyError, match=r"purposes\.marketing: 'validity' is required"):
        load_privacy(path)


def test_sla_errors_name_the_file_as_well_as_the_key(tmp_path: Path) -> None:
    l2 = 'tier = "L2"\nname = "Compliance review"\ndecided_by = "compliance_officer"\ndeciders = 1'
    path = _edited(tmp_path, "sla.toml", l2, l2.replace("deciders = 1", "deciders = 3"))
    with pytest.raises(sla_policy.PolicyError) as caught:
        sla_policy.load(path, complaint_appeal_window=timedelta(days=30))
    assert str(caught.value) == f"{path}: disputes.tier[1].deciders must be 1 or 2"


def test_a_requirements_file_entry_of_the_wrong_kind_names_its_table(tmp_path: Path) -> None:
    reference = 'evidence = "A written reference from a professional contact, verified by a call"\ndocuments = 1'
    path = _edited(tmp_path, requirements.FILE_NAME, reference, reference.replace("= 1", "= -1"))
    with pytest.raises(requirements.RequirementsError) as caught:
        requirements.load(path)
    assert str(caught.value) == f"{path}: checks.reference.documents must be a non-negative integer"


def test_every_domain_error_is_a_policy_file_error() -> None:
    assert issubclass(PolicyError, policyfiles.PolicyFileError)
    assert issubclass(sla_policy.PolicyError, policyfiles.PolicyFileError)
    assert issubclass(requirements.RequirementsError, policyfiles.PolicyFileError)


def test_a_file_that_is_not_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "privacy.toml"
    path.write_text("[purposes\n")
    with pytest.raises(PolicyError, match=r"privacy\.toml: "):
        load_privacy(path)


class _Shape(policyfiles.PolicyShape):
    span: policyfiles.IsoDuration
    exact: policyfiles.ExactDuration | None = None


def test_durations_decode_through_the_one_parser() -> None:
    shape = policyfiles.decode({"span": "P1Y6M", "exact": "PT40H"}, _Shape, source="x.toml")
    assert shape.span.value == Duration(years=1, months=6)
    assert shape.exact is not None and shape.exact.value == timedelta(hours=40)
    with pytest.raises(policyfiles.PolicyFileError, match=r"^x\.toml: exact: a duration with years or months"):
        policyfiles.decode({"span": "P1D", "exact": "P1M"}, _Shape, source="x.toml")
    with pytest.raises(policyfiles.PolicyFileError, match=r"^x\.toml: section\.span: 'soon' is not an ISO 8601"):
        policyfiles.decode({"span": "soon"}, _Shape, source="x.toml", at="section")
