from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


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


class CrmAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with the CRM's site (``crm.admin_site``) as ``admin.site``.
    Named in INSTALLED_APPS; not the ``crm`` app's own config (``default = False``)."""

    default = False
    default_site = "crm.admin_site.CrmAdminSite"
