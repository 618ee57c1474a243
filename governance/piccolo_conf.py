"""Piccolo's configuration: the engine comes from the same settings as the service.

Piccolo finds its engine through this module (``PICCOLO_CONF=governance.piccolo_conf``,
set by :mod:`governance.core.db` before any table is touched).
"""

from piccolo.conf.apps import AppRegistry

from governance.core.db import build_engine
from governance.settings import Settings

DB = build_engine(Settings.from_env())

APP_REGISTRY = AppRegistry(
    apps=[
        "governance.core.piccolo_app",
        "governance.audit.piccolo_app",
        "governance.complaints.piccolo_app",
        "governance.vetting.piccolo_app",
        # privacy
        "governance.privacy.piccolo_app",
        "governance.evidence.piccolo_app",
        "governance.credentials.piccolo_app",
        "governance.web.piccolo_app",
    ]
)
