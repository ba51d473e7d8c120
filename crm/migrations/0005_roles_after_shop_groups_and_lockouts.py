"""The roles again, now that shop groups' and django-axes' permissions exist (crm/roles.py):
the Manager holds them, so a manager can see and lift sign-in lockouts in the admin."""

from django.db import migrations

from crm.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0004_loyalty_roles"),
        ("customers", "0010_shop_groups"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
