"""Order ingestion: create or update orders by (shop, external_id), set-based.

Single orders, bulk requests and CSV imports all come through ``orders_ingest``. It checks
every item first (currency, totals, duplicates), then writes all valid items in one
transaction with a fixed number of queries, whatever the batch size. An invalid item is
never written; it comes back with its errors, named by field.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

import orjson

from core.db.bulk_writer import insert_objects, insert_rows
from core.transactions import atomic_retrying
from customers.models import ZERO, ConsentSource, Order, OrderLine, Product, Shop
from customers.services.currency import MAX_AMOUNT, base_currency, minor_unit, rates_for, to_base
from customers.services.customers import CustomerData, customers_resolve
from customers.services.pending_updates import pending_updates_mark

LINE_COLUMNS = ("order_id", "product_id", "sku", "name", "quantity", "unit_price")
ORDER_FIELDS = (
    "customer_id",
    "placed_at",
    "status",
    "currency",
    "subtotal",
    "discount_total",
    "shipping_total",
    "tax_total",
    "total",
    "total_base",
    "exchange_rate",
    "discount_code",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "shipping_address_key",
    "payload_hash",
)


@dataclass(frozen=True)
class LineData:
    name: str
    quantity: int
    unit_price: Decimal
    sku: str = ""
    category: str = ""


@dataclass(frozen=True)
class OrderData:
    external_id: str
    placed_at: datetime
    currency: str
    total: Decimal
    customer: CustomerData
    status: str = Order.Status.PLACED
    subtotal: Decimal | None = None
    discount_total: Decimal = ZERO
    shipping_total: Decimal = ZERO
    tax_total: Decimal = ZERO
    discount_code: str = ""
    source: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    shipping_address_key: str = ""
    lines: tuple[LineData, ...] = field(default_factory=tuple)


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass
class OrderResult:
    external_id: str
    outcome: Outcome
    order: Order | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.outcome in (Outcome.CREATED, Outcome.UPDATED)


def payload_hash(data: OrderData) -> str:
    """A digest of the normalised order, so a replayed body is recognised as unchanged."""
    canonical = orjson.dumps(data, default=str, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def lines_subtotal(data: OrderData) -> Decimal:
    return sum((line.unit_price * line.quantity for line in data.lines), ZERO)


def derived_subtotal(data: OrderData) -> Decimal:
    """The subtotal stored: the lines' sum, else the one sent, else what the total implies."""
    if data.lines:
        return lines_subtotal(data)
    if data.subtotal is not None:
        return data.subtotal
    return data.total - data.shipping_total - data.tax_total + data.discount_total


def _subtotal_matches(sent: Decimal, lines: Decimal, data: OrderData, unit: Decimal) -> bool:
    """A subtotal is the lines' sum, or the lines' sum after the discount (as Shopify's and
    many other exports write it); either way the stored subtotal is the lines' sum."""
    return abs(sent - lines) <= unit or abs(sent - (lines - data.discount_total)) <= unit


def order_check(data: OrderData, rates: dict[str, Decimal]) -> dict[str, list[str]]:
    """Business-rule errors for one order, by field; empty if the order can be written."""
    errors: dict[str, list[str]] = {}
    if data.currency not in rates:
        errors["currency"] = [f"No exchange rate from {data.currency} to the base currency; add one first."]
    unit = minor_unit(data.currency)
    amounts = {
        "total": data.total,
        "subtotal": data.subtotal,
        "discount_total": data.discount_total,
        "shipping_total": data.shipping_total,
        "tax_total": data.tax_total,
    }
    for name, amount in amounts.items():
        if amount is not None and amount != amount.quantize(unit):
            places = abs(unit.as_tuple().exponent)
            allowed = f"at most {places} decimal place{'s' if places > 1 else ''}" if places else "no decimal places"
            errors[name] = [f"{data.currency} amounts have {allowed}."]
    if errors:
        return errors
    subtotal = derived_subtotal(data)
    if subtotal > MAX_AMOUNT:
        field = "lines" if data.lines else "subtotal"
        return {field: [f"The subtotal comes to {subtotal}, over the {MAX_AMOUNT} an order may hold."]}
    if data.lines and data.subtotal is not None and not _subtotal_matches(data.subtotal, subtotal, data, unit):
        after = subtotal - data.discount_total
        also = f" (or {after} after the discount)" if data.discount_total else ""
        return {"subtotal": [f"Subtotal {data.subtotal} does not match the lines, which add up to {subtotal}{also}."]}
    if subtotal < 0:
        return {"total": ["Total is less than shipping plus tax minus discount."]}
    expected = subtotal - data.discount_total + data.shipping_total + data.tax_total
    if abs(expected - data.total) > unit:
        return {
            "total": [
                f"Total {data.total} does not add up: subtotal {subtotal} − discount {data.discount_total} "
                f"+ shipping {data.shipping_total} + tax {data.tax_total} = {expected}."
            ]
        }
    total_base = to_base(data.total, rates[data.currency])
    if total_base > MAX_AMOUNT:
        return {
            "total": [
                f"Total {data.total} {data.currency} is {total_base} {base_currency()}, over the {MAX_AMOUNT} "
                "an order may hold in the base currency."
            ]
        }
    return {}


def _order_values(data: OrderData, customer_id: int, rate: Decimal, digest: str) -> dict:
    return {
        "customer_id": customer_id,
        "placed_at": data.placed_at,
        "status": data.status,
        "currency": data.currency,
        "subtotal": derived_subtotal(data),
        "discount_total": data.discount_total,
        "shipping_total": data.shipping_total,
        "tax_total": data.tax_total,
        "total": data.total,
        "total_base": to_base(data.total, rate),
        "exchange_rate": rate,
        "discount_code": data.discount_code,
        "source": data.source,
        "utm_source": data.utm_source,
        "utm_medium": data.utm_medium,
        "utm_campaign": data.utm_campaign,
        "shipping_address_key": data.shipping_address_key,
        "payload_hash": digest,
    }


def _products_resolve(shop: Shop, orders: Sequence[OrderData]) -> dict[str, int]:
    """Product ids by sku, adding products the catalogue does not know yet (one to three queries)."""
    first_seen: dict[str, tuple[LineData, str]] = {}
    for order in orders:
        for line in order.lines:
            if line.sku and line.sku not in first_seen:
                first_seen[line.sku] = (line, order.currency)
    if not first_seen:
        return {}
    products = Product.objects.filter(shop_id=shop.pk).order_by()  # no join for the default ordering
    known = dict(products.filter(sku__in=first_seen).values_list("sku", "id"))
    new = {sku: seen for sku, seen in first_seen.items() if sku not in known}
    if new:
        Product.objects.bulk_create(
            [
                Product(shop=shop, sku=sku, name=line.name, category=line.category, price=line.unit_price, currency=cur)
                for sku, (line, cur) in sorted(new.items())
            ],
            ignore_conflicts=True,  # a concurrent request may add the same sku
        )
        known.update(products.filter(sku__in=new).values_list("sku", "id"))
    return known


def _write(
    shop: Shop,
    items: list[tuple[int, OrderData, str]],
    rates,
    results: list[OrderResult],
    keep_lines: bool,
    consent: tuple[str, str] = (ConsentSource.CHECKOUT, ""),
) -> None:
    """Write the valid items, filling in their results. One transaction; raises on a race."""
    existing = {
        o.external_id: o
        for o in Order.objects.select_for_update()
        .filter(shop_id=shop.pk, external_id__in=[d.external_id for _, d, _ in items])
        .order_by()  # the default ordering would only cost time here
    }
    pending = []
    for i, data, digest in items:
        order = existing.get(data.external_id)
        if order is not None and order.payload_hash == digest:
            results[i] = OrderResult(data.external_id, Outcome.UNCHANGED, order)
        else:
            pending.append((i, data, digest))
    if not pending:
        return
    customer_ids = customers_resolve(
        shop=shop,
        items=[d.customer for _, d, _ in pending],
        seen_at=[d.placed_at for _, d, _ in pending],
        consent_source=consent[0],  # the order's accepts_marketing: the checkout, or an import
        consent_shown=consent[1],
    ).ids
    products = _products_resolve(shop, [d for _, d, _ in pending])
    to_create, to_update = [], []
    for (i, data, digest), customer_id in zip(pending, customer_ids, strict=True):
        values = _order_values(data, customer_id, rates[data.currency], digest)
        order = existing.get(data.external_id)
        if order is None:
            order = Order(shop=shop, external_id=data.external_id, **values)
            to_create.append(order)
            results[i] = OrderResult(data.external_id, Outcome.CREATED, order)
        else:
            for name, value in values.items():
                setattr(order, name, value)
            to_update.append(order)
            results[i] = OrderResult(data.external_id, Outcome.UPDATED, order)
    insert_objects(Order, to_create)
    if to_update:
        Order.objects.bulk_update(to_update, [*ORDER_FIELDS, "updated_at"])
        OrderLine.objects.filter(order__in=to_update).delete()
    written = [*to_create, *to_update]
    by_external_id = {o.external_id: o for o in written}
    line_rows = [
        (by_external_id[d.external_id].pk, products.get(ln.sku), ln.sku, ln.name, ln.quantity, ln.unit_price)
        for _, d, _ in pending
        for ln in d.lines
    ]
    insert_rows(OrderLine, LINE_COLUMNS, line_rows)
    pending_updates_mark([o.customer_id for o in written])  # the follow-up, with the data
    if keep_lines:
        _keep_lines(written, [OrderLine(**dict(zip(LINE_COLUMNS, row, strict=True))) for row in line_rows])


def _keep_lines(orders: list[Order], lines: list[OrderLine]) -> None:
    """Leave each order's lines in memory, as ``prefetch_related("lines")`` would, so a
    response renders them without reading back what was just written."""
    by_order: dict[int, list[OrderLine]] = {o.pk: [] for o in orders}
    for line in lines:
        by_order[line.order_id].append(line)
    for order in orders:
        cached = order.lines.get_queryset()
        cached._result_cache, cached._prefetch_done = by_order[order.pk], True
        order._prefetched_objects_cache = {"lines": cached}


def orders_ingest(
    *,
    shop: Shop,
    orders: Sequence[OrderData],
    keep_lines: bool = False,
    consent_source: str = ConsentSource.CHECKOUT,
    consent_shown: str = "",
) -> list[OrderResult]:
    """Create, update or recognise as unchanged each order; results in the input's order.

    ``keep_lines``: leave the written lines on each result's order, for a caller that
    renders them (the single-order API); bulk callers skip building them.
    ``consent_source``, ``consent_shown``: where a change of a customer's marketing consent
    (the order's ``accepts_marketing``) came from, and what they were shown. An unchanged
    order changes nothing, so a replayed order or a re-run import records no consent twice.
    """
    results: list[OrderResult] = [None] * len(orders)  # type: ignore[list-item]
    rates = rates_for({o.currency for o in orders})
    seen: dict[str, int] = {}
    valid: list[tuple[int, OrderData, str]] = []
    for i, data in enumerate(orders):
        errors = order_check(data, rates)
        if data.external_id in seen:
            errors.setdefault("external_id", []).append(
                f"Order {data.external_id} appears twice in this request (first at item {seen[data.external_id]})."
            )
        seen.setdefault(data.external_id, i)
        if errors:
            results[i] = OrderResult(data.external_id, Outcome.ERROR, errors=errors)
        else:
            valid.append((i, data, payload_hash(data)))
    if not valid:
        return results
    # A concurrent request that inserts the same new order makes ours fail on the unique key
    # (or deadlock with ours); the whole batch is then re-run against its rows.
    consent = (consent_source, consent_shown)
    atomic_retrying(lambda: _write(shop, valid, rates, results, keep_lines, consent), retry_integrity_errors=True)
    return results
