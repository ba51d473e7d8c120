"""``{{ tier }}`` meant the loyalty tier once loyalty was installed, and the value band
without it. Each variable now has one name: the loyalty tier is ``{{ loyalty_tier }}``, the
value band ``{{ value_tier }}``. Macros written with ``{{ tier }}`` (with loyalty, as this
project ships) are rewritten to the loyalty tier they showed."""

import re

from django.db import migrations

TIER = re.compile(r"\{\{\s*tier\s*\}\}")


def forwards(apps, schema_editor):
    Macro = apps.get_model("support", "Macro")
    for macro in Macro.objects.filter(body__contains="tier"):
        body = TIER.sub("{{ loyalty_tier }}", macro.body)
        if body != macro.body:
            Macro.objects.filter(pk=macro.pk).update(body=body)


def backwards(apps, schema_editor):
    Macro = apps.get_model("support", "Macro")
    for macro in Macro.objects.filter(body__contains="loyalty_tier"):
        Macro.objects.filter(pk=macro.pk).update(body=macro.body.replace("{{ loyalty_tier }}", "{{ tier }}"))


class Migration(migrations.Migration):
    dependencies = [("support", "0003_customer_text_plain")]

    operations = [migrations.RunPython(forwards, backwards)]
