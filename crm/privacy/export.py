"""A customer's data, every app's, as JSON files in a ZIP: one file per model, derived from
the personal-data marks (every model with a path to the customer, and the rows found by
what they contain), so a new model or field is exported without a change here."""

import io
import json
import zipfile
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet

from crm.privacy.marks import all_marks, customer_models, rows_of
from crm.privacy.matching import MATCHERS, person_of
from customers.models import Customer, Shop


class _Encoder(DjangoJSONEncoder):
    def default(self, o):
        if isinstance(o, bytes | memoryview):
            return bytes(o).decode("utf-8", errors="replace")
        return super().default(o)


def _values(qs: QuerySet, customer_ids: tuple[int, ...], ref: int | None) -> list[dict]:
    """The rows, every stored field; with ``ref``, the customer's id as the shop knows it in
    place of the CRM's own (a shop's key never sees the internal id)."""
    fields = qs.model._meta.concrete_fields
    rows = list(qs.order_by("pk").values(*[f.attname for f in fields]))
    if ref is not None:
        own = [f.attname for f in fields if f.is_relation and f.related_model is Customer]
        for row in rows:
            for name in own:
                if row[name] in customer_ids:
                    row[name] = ref
    return rows


def export_tables(customer: Customer, *, shop: Shop | None = None, ref: int | None = None) -> dict[str, list[dict]]:
    """{"app_label.Model": the customer's rows}. With ``shop``, that shop's slice only: the
    models that belong to one shop, filtered to it (a shop's key sees nothing else), with the
    customer named by ``ref``, the id the shop's key knows them by. The duplicates merged into
    the customer are part of them (``customers.selectors.merged_into``)."""
    tables: dict[str, list[dict]] = {}
    person = person_of(customer)
    for model, marks in customer_models():
        if shop is not None and not marks.shop:
            continue
        qs = rows_of(marks, person.customer_ids)
        if shop is not None:
            qs = qs.filter(**{marks.shop: shop.pk})
        if rows := _values(qs, person.customer_ids, ref):
            tables[model._meta.label] = rows
    for label, matcher in MATCHERS.items():
        marks = all_marks()[label]
        qs = matcher.export_rows(person)
        if shop is not None:
            qs = qs.filter(**{marks.shop: shop.pk}) if marks.shop else qs.none()
        if rows := _values(qs, person.customer_ids, ref):
            tables[label] = rows
    return tables


def export_zip(
    customer: Customer, *, shop: Shop | None = None, ref: int | None = None, made_at: datetime, made_by: str
) -> bytes:
    """The ZIP: ``README.txt``, ``manifest.json`` (who, when, row counts) and one JSON file per model."""
    tables = export_tables(customer, shop=shop, ref=ref)
    manifest = {
        "customer_id": ref if ref is not None else customer.pk,
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

Why it is held: to sell to and deliver for the person (orders, refunds), to answer them
(tickets, reviews, surveys), to run the loyalty programme they joined (points, tiers,
rewards), and to send them marketing where they gave consent (segments, campaigns, flows,
the emails sent and what became of them).
Where it came from: the shops' platforms (their orders, customers and checkouts), the
person (emails, tickets, reviews, surveys, forms), and the CRM's own working (figures,
stages, segments, attribution).
Who receives it: the merchant's staff; the email provider that sends the emails; the
merchant's own systems subscribed to the CRM's webhooks.
How long it is kept: orders and refunds for the tax-retention period of the merchant's
country; the rest until the person asks for erasure, or the merchant deletes it; the
platforms' raw webhooks 30 days. Ask the merchant to correct or erase any of it.
"""
