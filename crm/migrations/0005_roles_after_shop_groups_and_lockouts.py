"""The roles again, now that the permissions of shop groups, shop tags and django-axes exist (crm/roles.py):
the Manager holds them, so a manager can see and lift sign-in lockouts in the admin."""

from django.db import migrations

from crm.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0004_loyalty_roles"),
        ("customers", "0013_shop_tags"),
        ("loyalty", "0005_accounts_per_shop_group"),
        ("support", "0003_customer_text_plain"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
