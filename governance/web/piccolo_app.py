"""Piccolo app for the pages' shell (sessions and sign-in links)."""

import os

from piccolo.conf.apps import AppConfig

from governance.web.tables import SignInLink, WebSession

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="web",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[WebSession, SignInLink],
    migration_dependencies=[],
    commands=[],
)
