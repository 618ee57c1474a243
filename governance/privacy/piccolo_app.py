"""Piccolo app for mentee privacy."""

import os

from piccolo.conf.apps import AppConfig

from governance.privacy.tables import ConsentReceipt, ConsentRecord, DataRequest, NoticeVersion, RetentionChoice

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="privacy",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[NoticeVersion, ConsentRecord, ConsentReceipt, RetentionChoice, DataRequest],
    migration_dependencies=[],
    commands=[],
)
