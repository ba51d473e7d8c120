from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared plumbing every app may import; it imports no app (see docs/architecture.md)."""

    name = "core"
    verbose_name = "Core"

    def ready(self):
        from core.db import lookups

        lookups.register()
