from django.db import migrations

from crm.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("sessions", "0001_initial"),
        ("crm", "0002_customer_360"),
        ("customers", "0008_api_key_role"),
        ("campaigns", "0003_membership_fewer_indexes"),
        ("support", "0002_desk_tools"),
        ("auditlog", "0017_add_actor_email"),  # managers may read the audit log
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
