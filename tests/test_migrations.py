"""Tables and migrations agree: Piccolo would generate nothing for any app.

A column added to a table class without its migration works in a test database built
from the classes but not in production, which is built from the migrations.
"""

from __future__ import annotations

import pytest
from piccolo.apps.migrations.commands.new import AutoMigrationManager
from piccolo.conf.apps import Finder

APPS = sorted(Finder().get_app_registry().app_configs)


@pytest.mark.parametrize("app_name", APPS)
async def test_the_migrations_build_exactly_the_tables(app_name: str) -> None:
    app = Finder().get_app_registry().get_app_config(app_name)
    assert app.table_classes, f"{app_name} declares no table"
    altered = await AutoMigrationManager(auto_input="y").get_alter_statements(app_config=app)
    missing = [statement for alter in altered for statement in alter.statements]
    assert missing == [], f"{app_name}: its tables differ from its migrations; write a migration for: {missing}"
