from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM"

    def ready(self):
        from django.db.models.signals import post_migrate

        from crm import audit, scheduler, task_failures, wiring  # noqa: F401 (scheduler: Celery signal handlers)
        from crm.roles import sync_roles_after_migrate
        from crm.webhooks import alerts  # noqa: F401 (registers its email template)

        post_migrate.connect(sync_roles_after_migrate, sender=self, dispatch_uid="crm-sync-roles")
        post_migrate.connect(shipped_flows_after_migrate, sender=self, dispatch_uid="crm-shipped-flows")

        audit.register()
        wiring.connect()
        task_failures.connect()


def shipped_flows_after_migrate(sender, *, using="default", **kwargs) -> None:
    """Every shop gets the ready-made flows it lacks, switched off (``campaigns.flows.shipped``),
    once the flows' tables exist (a migration back to before them skips this)."""
    from django.db import connections

    from campaigns.flows.shipped import shipped_flows_install_all
    from campaigns.models import Flow, FlowStep

    tables = set(connections[using].introspection.table_names())
    if {Flow._meta.db_table, FlowStep._meta.db_table, "campaigns_email"} <= tables:
        shipped_flows_install_all()


class CrmAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with the CRM's site (``crm.admin_site``) as ``admin.site``.
    Named in INSTALLED_APPS; not the ``crm`` app's own config (``default = False``)."""

    default = False
    default_site = "crm.admin_site.CrmAdminSite"
