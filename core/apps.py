from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared plumbing every app may import; it imports no app (see docs/architecture.md)."""

    name = "core"
    verbose_name = "Core"

    def ready(self):
        from django.db.backends.signals import connection_created

        from core.db import lookups
        from core.db.sqlite_wal import use_wal

        lookups.register()
        connection_created.connect(use_wal, dispatch_uid="core_sqlite_wal")
