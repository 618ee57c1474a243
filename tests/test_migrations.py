"""Tables and migrations agree: Piccolo would generate nothing for any app.

A column added to a table class without its migration works in a test database built
from the classes but not in production, which is built from the migrations.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from piccolo.apps.migrations.commands.new import AutoMigrationManager
from piccolo.conf.apps import Finder

from governance.complaints.tables import Complaint
from governance.settings import Settings

APPS = sorted(Finder().get_app_registry().app_configs)


@pytest.mark.parametrize("app_name", APPS)
async def test_the_migrations_build_exactly_the_tables(app_name: str) -> None:
    app = Finder().get_app_registry().get_app_config(app_name)
    assert app.table_classes, f"{app_name} declares no table"
    altered = await AutoMigrationManager(auto_input="y").get_alter_statements(app_config=app)
    missing = [statement for alter in altered for statement in alter.statements]
    assert missing == [], f"{app_name}: its tables differ from its migrations; write a migration for: {missing}"


@pytest.mark.parametrize(
    ("child", "values"),
    [
        ("complaint_event", "(id, complaint_id, to_state, actor, at) VALUES ({}, {}, 'received', 'x', {})"),
        (
            "complaint_note",
            "(id, complaint_id, author, author_role, body, created_at) VALUES ({}, {}, 'x', 'x', 'x', {})",
        ),
        (
            "attestation_status_change",
            "(id, attestation_id, status, at, version, score) VALUES ({}, {}, 'issued', {}, 1, 3)",
        ),
        ("dispute_event", "(id, dispute_id, to_state, tier, actor, at) VALUES ({}, {}, 'open', 'L1', 'x', {})"),
    ],
)
async def test_a_child_row_must_name_a_parent_that_exists(database: Settings, child: str, values: str) -> None:
    """Histories and notes hang off their parent by a foreign key, not by a loose id."""
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await Complaint.raw(f"INSERT INTO {child} " + values, uuid.uuid4(), uuid.uuid4(), datetime.now(UTC))
