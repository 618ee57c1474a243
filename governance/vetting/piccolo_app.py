"""Piccolo app for mentor vetting."""

import os

from piccolo.conf.apps import AppConfig

from governance.vetting.tables import Check, Decision, Document, Mentor, Rating

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="vetting",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[Mentor, Check, Document, Decision, Rating],
    migration_dependencies=[],
    commands=[],
)
