"""The stored Merkle tree nodes, and the signed link that numbers each checkpoint."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt, Bytea, Text
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Merkle tree nodes (proofs and tiles); checkpoints numbered and linked to their predecessor."

COMMON = {
    "null": False,
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)
    manager.add_table(class_name="AuditTreeNode", tablename="audit_tree_node", schema=None, columns=None)
    for name, column_class, extra in (
        ("node_id", BigInt, {"default": 0, "primary_key": True}),
        ("hash", Bytea, {"default": b""}),
    ):
        manager.add_column(
            table_class_name="AuditTreeNode",
            tablename="audit_tree_node",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params={**COMMON, **extra},
            schema=None,
        )
    manager.add_column(
        table_class_name="AuditCheckpoint",
        tablename="audit_checkpoint",
        column_name="link",
        db_column_name="link",
        column_class_name="Text",
        column_class=Text,
        params={**COMMON, "default": ""},
        schema=None,
    )
    return manager
