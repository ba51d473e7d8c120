"""The roles again, now that shop groups and shop tags have permissions (crm/roles.py)."""

from django.db import migrations

from crm.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0004_loyalty_roles"),
        ("customers", "0013_shop_tags"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
