"""Write the orders a CSV file holds (``crm.csv_import`` reads them): ``import_orders``.

Orders go through the same pipeline as the API's, in batches; a refunded amount the
export carries becomes a refund on its order, recorded once however often the file is
imported again. A preview runs the whole import in a transaction that is rolled back,
so it counts exactly what an import would create and writes nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Sum

from core.chunks import chunked
from core.errors import DomainError
from crm import pipeline
from crm.csv_import import CsvOrderReader, ParsedOrder, RowError
from customers.models import ConsentSource, Customer, OrderStatus, Refund, Shop
from customers.services.refunds import RefundData

BATCH = 500
PREVIEW_ORDERS = 5
REFUND_REASON = "Refunded amount in the imported order export"


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0  # orders not written
    customers_new: int = 0
    lines: int = 0  # lines of the orders created or updated
    refunds: int = 0
    errors: list[RowError] = field(default_factory=list)
    preview: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.created} orders created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.failed} with errors; {self.customers_new} new customers, {self.lines} order lines, "
            f"{self.refunds} refunds; {self.rows} rows read."
        )


def orders_import(
    *,
    shop: Shop,
    reader: CsvOrderReader,
    consent_shown: str = "",
    dry_run: bool = False,
    progress: Callable[[int], None] = lambda rows: None,
) -> ImportReport:
    """Import every order of the file; with ``dry_run``, the same but rolled back."""
    report = ImportReport()
    if not dry_run:
        _import(shop, reader, consent_shown, report, progress)
        return report
    with transaction.atomic():
        _import(shop, reader, consent_shown, report, progress)
        transaction.set_rollback(True)
    return report


def _import(shop, reader: CsvOrderReader, consent_shown: str, report: ImportReport, progress) -> None:
    customers_before = Customer.objects.count()
    for batch in chunked(reader.orders(), BATCH):
        _batch(shop, reader, batch, consent_shown, report)
        rows = sum(len(order.rows) for order in batch)
        report.rows += rows
        progress(rows)
    report.customers_new = Customer.objects.count() - customers_before
    report.errors.sort(key=lambda error: error.row)


def _batch(shop, reader: CsvOrderReader, batch: list[ParsedOrder], consent_shown: str, report: ImportReport) -> None:
    good = [order for order in batch if order.data is not None]
    results = pipeline.orders_receive(
        shop=shop,
        orders=[order.data for order in good],
        consent_source=ConsentSource.IMPORT,
        consent_shown=consent_shown,
    )
    for order, result in zip(good, results, strict=True):
        if result.errors:
            order.errors.extend(reader.describe(order, result.errors))
            order.data = None
        else:
            setattr(report, str(result.outcome), getattr(report, str(result.outcome)) + 1)
            if result.changed:
                report.lines += len(order.data.lines)
    _refunds(shop, reader, [o for o in good if o.data is not None and o.refunded], report)
    for order in batch:
        if order.data is None:
            report.failed += 1
        report.errors.extend(order.errors)
        if len(report.preview) < PREVIEW_ORDERS:
            report.preview.append(_mapped(order))


def _refunds(shop, reader: CsvOrderReader, orders: list[ParsedOrder], report: ImportReport) -> None:
    """The export's refunded amount as refunds: what it says less what the order already has
    (one query for the batch), so a re-import adds only a later refund."""
    if not orders:
        return
    had = dict(
        Refund.objects.filter(order__shop=shop, order__external_id__in=[o.data.external_id for o in orders])
        .values_list("order__external_id")
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    for order in orders:
        data = order.data
        more = order.refunded - had.get(data.external_id, 0)
        if more <= 0 or data.status == OrderStatus.CANCELLED:
            continue
        refund = RefundData(
            amount=more,
            refunded_at=data.placed_at,  # the exports carry no refund date
            reason=REFUND_REASON,
            external_id=f"import:refunded={order.refunded}",
        )
        try:
            _, created = pipeline.refund_receive(shop=shop, order_external_id=data.external_id, data=refund)
        except DomainError as exc:
            order.errors.append(RowError(order.rows[0], reader.columns["refunded"], str(order.refunded), str(exc)))
            continue
        report.refunds += created


def _mapped(order: ParsedOrder) -> str:
    rows = str(order.rows[0]) if len(order.rows) == 1 else f"{order.rows[0]}-{order.rows[-1]}"
    data = order.data
    if data is None:
        return f"rows {rows}: not imported (errors below)"
    who = data.customer.email or data.customer.external_id
    text = (
        f"rows {rows}: order {data.external_id}, {data.placed_at:%Y-%m-%d %H:%M} UTC, {data.status}, "
        f"{data.total} {data.currency}, {who}, {len(data.lines)} lines"
    )
    if data.discount_total:
        text += f", discount {data.discount_total}"
    if order.refunded:
        text += f", refunded {order.refunded}"
    if order.taxes_included:
        text += ", prices include tax"
    return text
