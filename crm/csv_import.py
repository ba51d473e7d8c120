"""Read orders from a CSV file into ``OrderData``, validated by the API's own payload struct.

One row is an order, or one line of an order: rows with the same ``order_id`` on
consecutive lines form one order (order-level columns are read from its first row).
"""

import csv
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.payloads import PayloadError, convert
from crm.api.commerce.payloads import OrderIn
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
    "accepts_marketing",
    "subtotal",
    "discount",
    "shipping",
    "tax",
    "discount_code",
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
    "status": "status",
}

# The accepts_marketing column's words (the platforms' exports write yes/no or true/false).
CONSENT_WORDS = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}

# (CSV line numbers, the order or None, field errors)
ParsedOrder = tuple[list[int], OrderData | None, str]


class CsvOrderReader:
    def __init__(self, reader: csv.DictReader, *, mapping=None, date_format=None, tz="UTC", currency=None):
        self.reader = reader
        self.columns = {field: (mapping or {}).get(field, field) for field in COLUMNS}
        header = set(reader.fieldnames or ())
        missing = [self.columns[f] for f in REQUIRED if self.columns[f] not in header]
        if not ({self.columns["customer_id"], self.columns["email"]} & header):
            missing.append(f"{self.columns['customer_id']} or {self.columns['email']}")
        if self.columns["currency"] not in header and not currency:
            missing.append(f"{self.columns['currency']} (or pass --currency)")
        if missing:
            raise ValueError(f"The CSV lacks the column(s): {', '.join(missing)}. Rename with --map FIELD=COLUMN.")
        self.date_format = date_format
        try:
            self.tz = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"Unknown time zone {tz!r}.") from exc
        self.currency = currency

    def _get(self, row: dict, field: str) -> str:
        return (row.get(self.columns[field]) or "").strip()

    def _placed_at(self, value: str) -> str:
        if not self.date_format:
            return value
        try:
            parsed = datetime.strptime(value, self.date_format)  # noqa: DTZ007 - zone added below
        except ValueError:
            return value  # the serializer reports it, naming placed_at
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.tz)
        return parsed.isoformat()

    def _payload(self, rows: list[dict]) -> dict:
        first = rows[0]
        placed_at = self._placed_at(self._get(first, "placed_at"))
        payload = {
            "external_id": self._get(first, "order_id"),
            "placed_at": placed_at,
            "currency": self._get(first, "currency") or self.currency,
            "total": self._get(first, "total"),
            "customer": {
                "external_id": self._get(first, "customer_id"),
                "email": self._get(first, "email"),
                "first_name": self._get(first, "first_name"),
                "last_name": self._get(first, "last_name"),
            },
        }
        if consent := self._get(first, "accepts_marketing"):
            payload["customer"]["marketing_consent"] = CONSENT_WORDS.get(consent.lower(), consent)
        for column, field in ORDER_FIELDS.items():
            if value := self._get(first, column):
                payload[field] = value
        lines = [
            {
                "sku": self._get(row, "sku"),
                "name": self._get(row, "name"),
                "category": self._get(row, "category"),
                "quantity": self._get(row, "quantity") or "1",
                "unit_price": self._get(row, "unit_price"),
            }
            for row in rows
            if self._get(row, "sku") or self._get(row, "name")
        ]
        if lines:
            payload["lines"] = lines
        return payload

    def _parse(self, line_numbers: list[int], rows: list[dict]) -> ParsedOrder:
        payload = self._payload(rows)
        consent = payload["customer"].get("marketing_consent")
        if isinstance(consent, str):
            return line_numbers, None, f"{self.columns['accepts_marketing']}: {consent!r} is not yes or no."
        try:
            order = convert(payload, OrderIn)
        except PayloadError as exc:
            return line_numbers, None, "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.errors.items())
        return line_numbers, order.to_data(), ""

    def orders(self) -> Iterator[ParsedOrder]:
        group: list[dict] = []
        numbers: list[int] = []
        for row in self.reader:
            line = self.reader.line_num
            if group and self._get(row, "order_id") != self._get(group[0], "order_id"):
                yield self._parse(numbers, group)
                group, numbers = [], []
            group.append(row)
            numbers.append(line)
        if group:
            yield self._parse(numbers, group)
