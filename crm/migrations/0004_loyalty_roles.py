"""The roles again, now that the loyalty app's permissions exist (crm/roles.py)."""

from django.db import migrations

from crm.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0003_roles"),
        ("loyalty", "0002_ledger_append_only"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
