"""Once synced the staff roles with ``crm.roles.ROLES``. The roles are now synced after every
``migrate`` (``post_migrate``, see ``crm/roles.py``), so this migration does nothing; it
stays for the databases that applied it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("crm", "0003_roles")]

    operations = []
