from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM"

    def ready(self):
        from django.db.models.signals import post_migrate

        from crm import audit, scheduler, task_failures, wiring  # noqa: F401 (scheduler: Celery signal handlers)
        from crm.roles import sync_roles_after_migrate

        post_migrate.connect(sync_roles_after_migrate, sender=self, dispatch_uid="crm-sync-roles")

        audit.register()
        wiring.connect()
        task_failures.connect()
