"""The roles again, now that ScheduledRun's permissions exist (crm/roles.py): the Manager sees
the scheduled runs in the admin."""

from django.db import migrations

from crm.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [("crm", "0007_scheduled_run")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
