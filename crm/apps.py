from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM"

    def ready(self):
        from crm import audit, task_failures, wiring

        audit.register()
        wiring.connect()
        task_failures.connect()
