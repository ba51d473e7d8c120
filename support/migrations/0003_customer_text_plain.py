"""Customer text stored before it was kept as plain text (support.services.plain_text) is
made plain now: review titles, bodies and responses, NPS and CSAT comments, ticket subjects.
Only rows holding a "<" or an "&" can change; they are read in primary-key order and
written back in batches."""

import html
import re

import nh3
from django.db import migrations
from django.db.models import Q

TAG_OPEN = re.compile(r"<+(?=[A-Za-z/!?])")
BATCH = 1000
FIELDS = {
    "Review": ["title", "body", "response"],
    "NpsResponse": ["comment"],
    "CsatResponse": ["comment"],
    "Ticket": ["subject"],
}


def plain_text(text: str) -> str:
    # A copy of support.services.plain_text as it was when this migration was written.
    return TAG_OPEN.sub("", html.unescape(nh3.clean(text, tags=set()))).strip()


def make_plain(apps, schema_editor):
    for model_name, fields in FIELDS.items():
        model = apps.get_model("support", model_name)
        marked = Q()
        for field in fields:
            marked |= Q(**{f"{field}__contains": "<"}) | Q(**{f"{field}__contains": "&"})
        changed = []
        for row in model.objects.filter(marked).only("pk", *fields).order_by("pk").iterator(chunk_size=BATCH):
            before = [getattr(row, f) for f in fields]
            for field in fields:
                setattr(row, field, plain_text(getattr(row, field)))
            if model_name == "Ticket" and not row.subject:
                row.subject = "(no subject)"
            if [getattr(row, f) for f in fields] != before:
                changed.append(row)
            if len(changed) >= BATCH:
                model.objects.bulk_update(changed, fields)
                changed = []
        if changed:
            model.objects.bulk_update(changed, fields)


class Migration(migrations.Migration):
    dependencies = [("support", "0002_desk_tools")]

    operations = [migrations.RunPython(make_plain, migrations.RunPython.noop)]
