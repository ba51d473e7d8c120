"""A customer's data, every app's, as JSON files in a ZIP: one file per model, derived from
the personal-data marks (every model with a path to the customer, and the rows found by
what they contain), so a new model or field is exported without a change here."""

import io
import json
import zipfile
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, QuerySet

from core.personal_data import Marks
from crm.privacy.marks import all_marks, customer_models, model_of
from crm.privacy.matching import MATCHERS, person_of
from customers.models import Customer, Shop


def rows_of(marks: Marks, customer_id: int) -> QuerySet:
    """The rows of ``marks``' model that are the customer's."""
    condition = Q()
    for path in marks.customer_paths:
        condition |= Q(**{path: customer_id})
    return model_of(marks).objects.filter(condition)


class _Encoder(DjangoJSONEncoder):
    def default(self, o):
        if isinstance(o, bytes | memoryview):
            return bytes(o).decode("utf-8", errors="replace")
        return super().default(o)


def _values(qs: QuerySet) -> list[dict]:
    names = [f.attname for f in qs.model._meta.concrete_fields]
    return list(qs.order_by("pk").values(*names))


def export_tables(customer: Customer, *, shop: Shop | None = None) -> dict[str, list[dict]]:
    """{"app_label.Model": the customer's rows}. With ``shop``, that shop's slice only: the
    models that belong to one shop, filtered to it (a shop's key sees nothing else)."""
    tables: dict[str, list[dict]] = {}
    for model, marks in customer_models():
        if shop is not None and not marks.shop:
            continue
        qs = rows_of(marks, customer.pk)
        if shop is not None:
            qs = qs.filter(**{marks.shop: shop.pk})
        if rows := _values(qs):
            tables[model._meta.label] = rows
    person = person_of(customer)
    for label, matcher in MATCHERS.items():
        marks = all_marks()[label]
        qs = matcher.rows(person)
        if shop is not None:
            qs = qs.filter(**{marks.shop: shop.pk}) if marks.shop else qs.none()
        if rows := _values(qs):
            tables[label] = rows
    return tables


def export_zip(customer: Customer, *, shop: Shop | None = None, made_at: datetime, made_by: str) -> bytes:
    """The ZIP: ``README.txt``, ``manifest.json`` (who, when, row counts) and one JSON file per model."""
    tables = export_tables(customer, shop=shop)
    manifest = {
        "customer_id": customer.pk,
        "shop": shop.slug if shop else None,
        "made_at": made_at,
        "made_by": made_by,
        "files": {f"{label}.json": len(rows) for label, rows in tables.items()},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README)
        archive.writestr("manifest.json", json.dumps(manifest, cls=_Encoder, indent=2))
        for label, rows in tables.items():
            archive.writestr(f"{label}.json", json.dumps(rows, cls=_Encoder, indent=2, ensure_ascii=False))
    return buffer.getvalue()


README = """The personal data the CRM holds about one customer.

Each .json file is one kind of record (named app.Model), a list of rows with every stored
field; ids in fields ending _id point at rows of the other files. manifest.json says who
made this export, when, and how many rows each file holds. Money is in the record's currency
(the currency field) and in the base currency (fields ending _base).
"""
