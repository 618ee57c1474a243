"""Piccolo app for the audit log."""

import os

from piccolo.conf.apps import AppConfig

from governance.audit.tables import (
    AuditCheckpoint,
    AuditCosignature,
    AuditEntry,
    AuditHead,
    AuditTreeNode,
    PolicyVersion,
)

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="audit",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[AuditEntry, AuditHead, AuditCheckpoint, AuditTreeNode, PolicyVersion, AuditCosignature],
    migration_dependencies=[],
    commands=[],
)
