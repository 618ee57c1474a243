"""Settings: typed, validated at start-up, errors name the variable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from governance.core.durations import Duration
from governance.settings import Settings, SettingsError


def test_embedded_defaults_live_under_the_data_dir() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.data_dir == Path("var")
    assert settings.effective_database_url == "sqlite:///var/governance.sqlite3"
    assert not settings.is_postgres
    assert settings.effective_master_key_file == Path("var/keys/master.key")
    assert settings.effective_object_store_dir == Path("var/objects")
    assert settings.checkpoint_interval == timedelta(seconds=10)


def test_overrides_are_read_and_typed() -> None:
    settings = Settings.from_env(
        {
            "GOVERNANCE_HOST": "0.0.0.0",
            "GOVERNANCE_PORT": "9100",
            "GOVERNANCE_DATA_DIR": "/srv/governance",
            "GOVERNANCE_DATABASE_URL": "postgresql://app@db:5432/governance",
            "GOVERNANCE_CHECKPOINT_INTERVAL": "PT1M",
            "GOVERNANCE_ENV": "production",
            "GOVERNANCE_JWT_SECRET": "s" * 40,
            "GOVERNANCE_MASTER_KEY_FILE": "/run/secrets/master.key",
            "GOVERNANCE_CHECKPOINT_KEY_FILE": "/run/secrets/checkpoint.pem",
            "GOVERNANCE_CREDENTIAL_KEY_FILE": "/run/secrets/credential.pem",
            "GOVERNANCE_CREDENTIAL_RETIRED_KEY_FILES": "/run/secrets/old-1.pem, /run/secrets/old-2.pem",
            "GOVERNANCE_CREDENTIAL_STATUS_TTL": "PT1M",
        }
    )
    assert settings.port == 9100
    assert settings.is_postgres
    assert settings.checkpoint_interval == timedelta(minutes=1)
    assert settings.json_logs
    assert settings.effective_checkpoint_key_file == Path("/run/secrets/checkpoint.pem")
    assert settings.effective_credential_key_file == Path("/run/secrets/credential.pem")
    assert settings.credential_retired_key_files == ("/run/secrets/old-1.pem", "/run/secrets/old-2.pem")
    assert settings.credential_status_ttl == timedelta(minutes=1)


def test_checkpoint_interval_accepts_plain_seconds() -> None:
    assert Settings.from_env({"GOVERNANCE_CHECKPOINT_INTERVAL": "2.5"}).checkpoint_interval == timedelta(seconds=2.5)


def test_evidence_retention_is_a_calendar_duration() -> None:
    assert Settings.from_env({}).evidence_retention == Duration(years=6)
    retention = Settings.from_env({"GOVERNANCE_EVIDENCE_RETENTION": "P7Y6M"}).evidence_retention
    assert retention == Duration(years=7, months=6)
    assert retention.add_to(datetime(2024, 2, 29, tzinfo=UTC)) == datetime(2031, 8, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GOVERNANCE_PORT", "eighty"),
        ("GOVERNANCE_PORT", "70000"),
        ("GOVERNANCE_WORKERS", "0"),
        ("GOVERNANCE_ENV", "staging"),
        ("GOVERNANCE_LOG_LEVEL", "LOUD"),
        ("GOVERNANCE_DATABASE_URL", "mysql://db/governance"),
        ("GOVERNANCE_JWT_SECRET", "too-short"),
        ("GOVERNANCE_CHECKPOINT_INTERVAL", "every ten seconds"),
        ("GOVERNANCE_CHECKPOINT_INTERVAL", "P1M"),
        ("GOVERNANCE_LOG_ORIGIN", "has spaces in it"),
        ("GOVERNANCE_MAX_REQUEST_BODY_BYTES", "-1"),
        ("GOVERNANCE_EVIDENCE_RETENTION", "six years"),
        ("GOVERNANCE_EVIDENCE_RETENTION", "PT0S"),
        ("GOVERNANCE_EVIDENCE_LEASE", "0"),
        ("GOVERNANCE_EVIDENCE_LEASE", "-5"),
        ("GOVERNANCE_EVIDENCE_POLL_INTERVAL", "-1"),
        ("GOVERNANCE_EVIDENCE_POLL_INTERVAL", "often"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: value})


@pytest.mark.parametrize(
    "missing", ["DATABASE_URL", "JWT_SECRET", "MASTER_KEY_FILE", "CHECKPOINT_KEY_FILE", "CREDENTIAL_KEY_FILE"]
)
def test_production_requires_shared_database_and_keys(missing: str) -> None:
    environment = {
        "GOVERNANCE_ENV": "production",
        "GOVERNANCE_DATABASE_URL": "postgresql://db/governance",
        "GOVERNANCE_JWT_SECRET": "s" * 40,
        "GOVERNANCE_MASTER_KEY_FILE": "/run/secrets/master.key",
        "GOVERNANCE_CHECKPOINT_KEY_FILE": "/run/secrets/checkpoint.pem",
        "GOVERNANCE_CREDENTIAL_KEY_FILE": "/run/secrets/credential.pem",
    }
    del environment[f"GOVERNANCE_{missing}"]
    with pytest.raises(SettingsError, match=f"GOVERNANCE_{missing}"):
        Settings.from_env(environment)


def test_an_app_for_another_database_than_the_process_uses_is_refused(settings: Settings) -> None:
    from governance.app import create_app

    other = msgspec.structs.replace(settings, database_url="sqlite:////tmp/some-other-governance.sqlite3")
    with pytest.raises(RuntimeError, match="another database"):
        create_app(other)
