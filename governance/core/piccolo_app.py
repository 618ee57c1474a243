"""Piccolo app for the shared kernel's tables (per-subject data keys, idempotency keys)."""

import os

from piccolo.conf.apps import AppConfig

from governance.core.tables import IdempotencyKey, SubjectKey

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="core",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[SubjectKey, IdempotencyKey],
    migration_dependencies=[],
    commands=[],
)
