"""Read orders from a CSV file into ``OrderData``, validated by the API's own payload struct.

One row is an order, or one line of an order: rows with the same ``order_id`` on
consecutive lines form one order (order-level columns are read from its first row; a
row with an empty ``order_id`` continues the order above, as some exports write them).
A preset (``crm.csv_presets``) names the columns, date formats and statuses of a
platform's own export. Every problem is a ``RowError``: the spreadsheet row, the column,
the value refused and what is allowed.
"""

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.payloads import PayloadError, convert
from crm.api.commerce.payloads import OrderIn
from crm.csv_presets import Preset, status_key
from customers.models import ZERO, OrderStatus
from customers.services.orders import OrderData

COLUMNS = (
    "order_id",
    "placed_at",
    "total",
    "currency",
    "status",
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "full_name",
    "phone",
    "country",
    "accepts_marketing",
    "subtotal",
    "discount",
    "shipping",
    "tax",
    "discount_code",
    "refunded",
    "fulfillment_status",
    "cancelled_at",
    "sku",
    "name",
    "category",
    "quantity",
    "unit_price",
)
REQUIRED = ("order_id", "placed_at", "total")
ORDER_FIELDS = {
    "subtotal": "subtotal",
    "discount": "discount_total",
    "shipping": "shipping_total",
    "tax": "tax_total",
    "discount_code": "discount_code",
}
MONEY = ("total", "subtotal", "discount", "shipping", "tax", "refunded", "unit_price")
CRM_STATUSES = tuple(OrderStatus.values)

# The accepts_marketing column's words (the platforms' exports write yes/no or true/false).
CONSENT_WORDS = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}

# Where an error about a field of ``OrderIn`` (or of the order checks) is in the file.
FIELD_COLUMNS = {
    "external_id": "order_id",
    "placed_at": "placed_at",
    "currency": "currency",
    "total": "total",
    "status": "status",
    "subtotal": "subtotal",
    "discount_total": "discount",
    "shipping_total": "shipping",
    "tax_total": "tax",
    "discount_code": "discount_code",
    "customer.external_id": "email",  # "give an external_id or an email"
    "customer.email": "email",
    "customer.first_name": "first_name",
    "customer.last_name": "last_name",
    "customer.phone": "phone",
    "customer.country": "country",
    "customer.marketing_consent": "accepts_marketing",
    "lines": "unit_price",  # the lines' sum
}
PLAIN = {
    "quantity": "Not a whole number of at least 1. Allowed: 1, 2, 3 …",
    "country": "Not a two-letter country code. Allowed: an ISO 3166-1 code such as US, DE or FR, or empty.",
    "currency": "Not a currency code. Allowed: a three-letter ISO 4217 code such as USD or EUR.",
}
LINE_PATH = re.compile(r"^lines\[(\d+)\]\.(\w+)$")
DATE_EXAMPLE = datetime(2026, 1, 31, 14, 5, 0, tzinfo=timezone(timedelta(hours=1)))


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        return f'row {self.row}, column "{self.column}", value "{self.value}": {self.message}'


@dataclass
class ParsedOrder:
    rows: list[int]
    raw: list[dict]
    data: OrderData | None = None
    refunded: Decimal = ZERO
    taxes_included: bool = False
    errors: list[RowError] = field(default_factory=list)


def detect_delimiter(header: str) -> str:
    """The delimiter of a file from its header line: a comma, a semicolon (European Excel)
    or a tab, whichever the header has most of outside quotes."""
    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t").delimiter
    except csv.Error:
        unquoted = re.sub(r'"[^"]*"', "", header)
        return max(",;\t", key=unquoted.count)


def detect_encoding(path) -> str:
    """UTF-8 (with or without Excel's byte-order mark) if the whole file is UTF-8, else
    Windows-1252: what Excel's plain "CSV" writes on Windows in Western Europe and the Americas."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as handle:
        try:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


class CsvOrderReader:
    def __init__(
        self,
        reader: csv.DictReader,
        *,
        preset: Preset | None = None,
        mapping=None,
        date_format=None,
        tz="UTC",
        currency=None,
        statuses=None,
        decimal_comma=False,
    ):
        self.reader = reader
        header = set(reader.fieldnames or ())
        mapping = mapping or {}
        self.columns: dict[str, str] = {}
        for name in COLUMNS:
            candidates = (preset.columns.get(name, ()) if preset else ()) or (name,)
            found = [c for c in candidates if c in header]
            self.columns[name] = mapping.get(name) or (found or candidates)[0]
        missing = [self.columns[f] for f in REQUIRED if self.columns[f] not in header]
        if not ({self.columns["customer_id"], self.columns["email"]} & header):
            missing.append(f"{self.columns['customer_id']} or {self.columns['email']}")
        if self.columns["currency"] not in header and not currency:
            missing.append(f"{self.columns['currency']} (or pass --currency)")
        if missing:
            raise ValueError(
                f"The CSV lacks the column(s): {', '.join(missing)}. "
                f"Its columns are: {', '.join(reader.fieldnames or ())}. "
                "Rename with --map FIELD=COLUMN"
                + ("." if preset else ", or use --preset shopify or --preset woocommerce for those exports.")
            )
        self.date_formats = (date_format,) if date_format else (preset.date_formats if preset else ())
        try:
            self.tz = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"Unknown time zone {tz!r}.") from exc
        self.currency = currency
        self.decimal_comma = decimal_comma
        self.statuses = {s: s for s in CRM_STATUSES} | (preset.statuses if preset else {})
        for value, status in (statuses or {}).items():
            if status not in CRM_STATUSES:
                raise ValueError(f"--status {value}={status}: the status must be one of {', '.join(CRM_STATUSES)}.")
            self.statuses[status_key(value)] = status

    def _get(self, row: dict, name: str) -> str:
        return (row.get(self.columns[name]) or "").strip()

    def _money(self, row: dict, name: str) -> str:
        value = self._get(row, name)
        if self.decimal_comma and "," in value:  # 1.234,50 -> 1234.50
            value = value.replace(".", "").replace(" ", "").replace("\u00a0", "").replace(",", ".")
        return value

    def _error(self, row: int, raw: dict, name: str, message: str) -> RowError:
        return RowError(row, self.columns[name], self._get(raw, name), message)

    def _placed_at(self, value: str) -> str | None:
        """The time as ISO 8601 with an offset (a time without one is in the ``--timezone``),
        or None if it is in none of the file's formats nor ISO 8601."""
        for fmt in self.date_formats:
            try:
                parsed = datetime.strptime(value, fmt)  # noqa: DTZ007 - zone added below
            except ValueError:
                continue
            break
        else:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=self.tz)).isoformat()

    def _date_allowed(self) -> str:
        examples = [f"{DATE_EXAMPLE.strftime(fmt)} ({fmt})" for fmt in self.date_formats]
        if not examples:
            return (
                f"Not a date. Allowed: ISO 8601 such as {DATE_EXAMPLE.isoformat()} (without an offset: in "
                "--timezone), or another format given with --date-format."
            )
        return "Not a date in the file's format. Allowed: " + ", ".join(examples) + ", or ISO 8601."

    def _status(self, order: ParsedOrder) -> str | None:
        first, row = order.raw[0], order.rows[0]
        raw = self._get(first, "status")
        status = self.statuses.get(status_key(raw)) if raw else OrderStatus.PLACED.value
        if status is None:
            allowed = ", ".join(sorted(self.statuses))
            order.errors.append(
                self._error(
                    row,
                    first,
                    "status",
                    f"Not a status this import knows. Allowed: {allowed} (or add one with --status VALUE=STATUS).",
                )
            )
            return None
        if status == OrderStatus.PAID and status_key(self._get(first, "fulfillment_status")) == "fulfilled":
            status = OrderStatus.FULFILLED.value
        if self._get(first, "cancelled_at") and status != OrderStatus.REFUNDED:
            status = OrderStatus.CANCELLED.value
        return status

    def _lines(self, order: ParsedOrder) -> list[tuple[int, dict]]:
        return [
            (row, raw)
            for row, raw in zip(order.rows, order.raw, strict=True)
            if self._get(raw, "sku") or self._get(raw, "name")
        ]

    def _customer(self, first: dict) -> dict:
        first_name, last_name = self._get(first, "first_name"), self._get(first, "last_name")
        if not (first_name or last_name):
            first_name, _, last_name = self._get(first, "full_name").partition(" ")
        customer = {
            "external_id": self._get(first, "customer_id"),
            "email": self._get(first, "email"),
            "first_name": first_name,
            "last_name": last_name.strip(),
            "phone": self._get(first, "phone"),
            "country": self._get(first, "country"),
        }
        if consent := self._get(first, "accepts_marketing"):
            customer["marketing_consent"] = CONSENT_WORDS.get(consent.lower(), consent)
        return customer

    def _payload(self, order: ParsedOrder) -> dict | None:
        first, row = order.raw[0], order.rows[0]
        placed_at = self._placed_at(self._get(first, "placed_at"))
        if placed_at is None:
            order.errors.append(self._error(row, first, "placed_at", self._date_allowed()))
        status = self._status(order)
        customer = self._customer(first)
        if isinstance(customer.get("marketing_consent"), str):
            order.errors.append(
                self._error(
                    row,
                    first,
                    "accepts_marketing",
                    f"Not yes or no. Allowed: {', '.join(CONSENT_WORDS)}, or empty (not said).",
                )
            )
        if refunded := self._money(first, "refunded"):
            try:
                order.refunded = abs(Decimal(refunded))
            except InvalidOperation:
                order.errors.append(
                    self._error(row, first, "refunded", "Not an amount. Allowed: a number such as 5.00.")
                )
        if order.errors:
            return None
        payload = {
            "external_id": self._get(first, "order_id"),
            "placed_at": placed_at,
            "currency": self._get(first, "currency") or self.currency,
            "total": self._money(first, "total"),
            "status": status,
            "customer": customer,
        }
        for column, name in ORDER_FIELDS.items():
            if value := (self._money(first, column) if column in MONEY else self._get(first, column)):
                payload[name] = value
        lines = [
            {
                "sku": self._get(raw, "sku"),
                "name": self._get(raw, "name"),
                "category": self._get(raw, "category"),
                "quantity": self._get(raw, "quantity") or "1",
                "unit_price": self._money(raw, "unit_price"),
            }
            for _, raw in self._lines(order)
        ]
        if lines:
            payload["lines"] = lines
            order.taxes_included = _taxes_included(payload)
            if order.taxes_included:
                payload.pop("tax_total")
        return payload

    def describe(
        self, order: ParsedOrder, errors: dict[str, list[str]], unread: frozenset[str] = frozenset()
    ) -> list[RowError]:
        """The API's field errors for one order, as rows and columns of the file (``unread``:
        the paths whose values could not be read as their type, said in the file's words)."""
        found = []
        lines = self._lines(order)
        for path, messages in errors.items():
            row, raw, name = order.rows[0], order.raw[0], FIELD_COLUMNS.get(path)
            if match := LINE_PATH.match(path):
                index, name = int(match[1]), match[2]
                if index < len(lines):
                    row, raw = lines[index]
            if name in self.columns:
                said = " ".join(messages)
                found.append(self._error(row, raw, name, self._plain(name, said) if path in unread else said))
            else:
                found.append(RowError(row, path, "", " ".join(messages)))
        return found

    def _plain(self, name: str, message: str) -> str:
        """The API's message about a value it could not read ("Must be a whole number") in the
        words of the file, with what is allowed."""
        if name in MONEY:
            comma = " or 59,90" if self.decimal_comma else " (59,90 with --decimal-comma)"
            return f"Not an amount. Allowed: a number such as 59.90{comma}."
        return PLAIN.get(name, message)

    def _parse(self, order: ParsedOrder) -> ParsedOrder:
        payload = None if order.errors else self._payload(order)
        if payload is None:
            return order
        try:
            order.data = convert(payload, OrderIn).to_data()
        except PayloadError as exc:
            order.errors.extend(self.describe(order, exc.errors, exc.unread))
        return order

    def orders(self) -> Iterator[ParsedOrder]:
        order: ParsedOrder | None = None
        seen: dict[str, int] = {}  # order id -> its first row: an order's rows are together
        for number, raw in enumerate(self.reader, start=2):
            if not any((value or "").strip() for value in raw.values() if isinstance(value, str)):
                continue  # an empty row (spreadsheets write them at the end)
            order_id = self._get(raw, "order_id")
            if order is not None and order_id in ("", self._get(order.raw[0], "order_id")):
                order.rows.append(number)
                order.raw.append(raw)
                continue
            if order is not None:
                yield self._parse(order)
            order = ParsedOrder(rows=[number], raw=[raw])
            if order_id in seen:
                order.errors.append(
                    self._error(
                        number,
                        raw,
                        "order_id",
                        f"This order's rows began at row {seen[order_id]}. Allowed: an order's rows one after "
                        "another (sort the file by order).",
                    )
                )
            seen.setdefault(order_id, number)
        if order is not None:
            yield self._parse(order)


def _taxes_included(payload: dict) -> bool:
    """Prices that include tax (most EU shops): the lines less the discount plus shipping
    already make the total, and adding the tax column again would not."""
    try:
        lines = sum(Decimal(ln["unit_price"]) * int(ln["quantity"]) for ln in payload["lines"])
        discount, shipping, tax, total = (
            Decimal(payload.get(name) or "0") for name in ("discount_total", "shipping_total", "tax_total", "total")
        )
    except (InvalidOperation, ValueError):
        return False
    cent = Decimal("0.01")
    return tax > 0 and abs(lines - discount + shipping - total) <= cent < abs(lines - discount + shipping + tax - total)
