"""The sending policy's one row, with its defaults (16-hour cap, quiet 21:00 to 08:00), so
the admin edits it and never adds a second (adding is off: checking for a row cost every
admin page a query)."""

from django.db import migrations


def create_policy(apps, schema_editor):
    SendingPolicy = apps.get_model("campaigns", "SendingPolicy")
    if not SendingPolicy.objects.exists():
        SendingPolicy.objects.create()


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0007_sending_policy")]

    operations = [migrations.RunPython(create_policy, migrations.RunPython.noop)]
