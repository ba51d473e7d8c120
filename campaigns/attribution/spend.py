"""Marketing spend: one row per (channel, campaign, month), in its currency and the base
currency; entered in the admin or imported from CSV. A CSV with any bad row writes nothing
and names each problem by row and column."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from campaigns.models import MarketingSpend
from customers.services.currency import MAX_AMOUNT, rates_for, to_base

COLUMNS = ("channel", "campaign", "month", "amount", "currency")
MAX_ROWS = 10_000


class SpendImportError(ValueError):
    """The problems of a CSV, each naming its row and column; nothing was written."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class SpendRow:
    channel: str
    campaign: str
    month: date
    amount: Decimal
    currency: str


FIRST_YEAR, LAST_YEAR = 2000, 2100  # spend outside these years is a typo, not a plan


def _month(text: str) -> date:
    parts = text.strip().split("-")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError("a month as YYYY-MM")
    month = date(int(parts[0]), int(parts[1]), 1)
    if not FIRST_YEAR <= month.year <= LAST_YEAR:
        raise ValueError(f"a month in {FIRST_YEAR} to {LAST_YEAR}")
    return month


def channel_normalize(channel: str) -> str:
    """Channels are compared as UTM sources are written: lower case (``Email`` is ``email``)."""
    return channel.strip().lower()


def spend_rows_parse(text: str) -> list[SpendRow]:
    """The rows of a spend CSV (header: channel, campaign, month, amount, currency), or
    ``SpendImportError`` with every problem."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header and c != "campaign"]
    if missing:
        raise SpendImportError([f"Row 1 (header): column {c!r} is missing." for c in missing])
    reader.fieldnames = header
    parsed: list[tuple[int, dict]] = []
    problems: list[str] = []
    for number, raw in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            raise SpendImportError([f"At most {MAX_ROWS} rows in one file."])
        values = {k: (v or "").strip() for k, v in raw.items() if k}
        row: dict = {"channel": channel_normalize(values.get("channel", "")), "campaign": values.get("campaign", "")}
        if not row["channel"]:
            problems.append(f"Row {number}, column channel: required.")
        elif len(row["channel"]) > 100:
            problems.append(f"Row {number}, column channel: at most 100 characters.")
        for column in ("channel", "campaign"):
            if not row[column].isprintable():
                problems.append(
                    f"Row {number}, column {column}: control characters are not allowed, got {row[column]!r}."
                )
        if len(row["campaign"]) > 200:
            problems.append(f"Row {number}, column campaign: at most 200 characters.")
        try:
            row["month"] = _month(values.get("month", ""))
        except ValueError as error:
            problems.append(f"Row {number}, column month: expected {error}, got {values.get('month')!r}.")
        try:
            amount = Decimal(values.get("amount", "").replace(",", ""))
            if (
                not amount.is_finite()
                or amount < 0
                or amount > MAX_AMOUNT
                or amount != amount.quantize(Decimal("0.01"))
            ):
                raise InvalidOperation
            row["amount"] = amount
        except InvalidOperation:
            problems.append(
                f"Row {number}, column amount: expected an amount from 0 with at most 2 decimals, "
                f"got {values.get('amount')!r}."
            )
        row["currency"] = values.get("currency", "").upper()
        if len(row["currency"]) != 3 or not row["currency"].isalpha():
            problems.append(f"Row {number}, column currency: expected a 3-letter code, got {values.get('currency')!r}.")
        parsed.append((number, row))
    rates = rates_for({r["currency"] for _, r in parsed if len(r["currency"]) == 3})
    seen: dict[tuple, int] = {}
    for number, r in parsed:
        if len(r["currency"]) == 3 and r["currency"].isalpha() and r["currency"] not in rates:
            problems.append(f"Row {number}, column currency: no exchange rate for {r['currency']}.")
        key = (r["channel"], r["campaign"], r.get("month"))
        if key in seen and r.get("month"):
            problems.append(f"Row {number}: the same channel, campaign and month as row {seen[key]}.")
        seen.setdefault(key, number)
    if problems:
        raise SpendImportError(problems)
    if not parsed:
        raise SpendImportError(["The file has no rows."])
    return [SpendRow(r["channel"], r["campaign"], r["month"], r["amount"], r["currency"]) for _, r in parsed]


def spend_import(*, text: str) -> int:
    """Write the CSV's rows (a row for the same channel, campaign and month replaces it)."""
    rows = spend_rows_parse(text)
    rates = rates_for({r.currency for r in rows})
    now = timezone.now()
    objs = [
        MarketingSpend(
            channel=r.channel,
            campaign=r.campaign,
            month=r.month,
            amount=r.amount,
            currency=r.currency,
            amount_base=to_base(r.amount, rates[r.currency]),
            created_at=now,
            updated_at=now,
        )
        for r in rows
    ]
    with transaction.atomic():
        MarketingSpend.objects.bulk_create(
            objs,
            update_conflicts=True,
            unique_fields=["channel", "campaign", "month"],
            update_fields=["amount", "currency", "amount_base", "updated_at"],
        )
    return len(objs)


def spend_amount_base(*, amount: Decimal, currency: str) -> Decimal:
    """``amount`` in the base currency; ``ValueError`` naming the currency without a rate."""
    rates = rates_for({currency})
    if currency not in rates:
        raise ValueError(f"No exchange rate for {currency}.")
    return to_base(amount, rates[currency])
