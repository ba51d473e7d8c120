from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM"

    def ready(self):
        from crm import audit, scheduler, wiring  # noqa: F401 (scheduler: Celery signal handlers)

        audit.register()
        wiring.connect()
