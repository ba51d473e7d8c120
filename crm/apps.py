from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM"

    def ready(self):
        from crm import audit, scheduler, task_failures, wiring  # noqa: F401 (scheduler: Celery signal handlers)

        audit.register()
        wiring.connect()
        task_failures.connect()
