"""The roles again, now that pending customer updates and task failures exist: the Manager
sees both in the admin (crm/roles.py)."""

from django.db import migrations

from crm.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0009_task_failures"),
        ("customers", "0014_pending_updates"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
