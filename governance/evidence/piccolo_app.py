"""Piccolo app for evidence bundles."""

import os

from piccolo.conf.apps import AppConfig

from governance.evidence.tables import EvidenceBundle

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="evidence",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[EvidenceBundle],
    migration_dependencies=[],
    commands=[],
)
