"""The attribution settings' one row, with their defaults (5 days after a click, 1 day after
an open, a 7-day half-life), so the admin edits it and never adds a second (adding is off:
checking for a row cost every admin page a query)."""

from django.db import migrations


def create_settings(apps, schema_editor):
    AttributionSettings = apps.get_model("campaigns", "AttributionSettings")
    if not AttributionSettings.objects.exists():
        AttributionSettings.objects.create()


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0011_email_min_uplift")]

    operations = [migrations.RunPython(create_settings, migrations.RunPython.noop)]
