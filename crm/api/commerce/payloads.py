"""What shops send: the inbound payloads of the API and the CSV import, as msgspec structs.

Decoding and the checks every app shares are in ``core/payloads.py``. The structs are
also the OpenAPI schema of the request bodies (crm/api/schema.py), so the documentation
and the validation cannot drift apart. Outbound bodies stay DRF serializers.

Errors come back as ``{"field.path": ["message"]}``: msgspec names the path
(``lines[0].quantity``); each struct's ``check`` reports its values' problems
(``core.payloads``).

Every value is checked here against what its column and every later sum can hold, so a
request that passes is written whole and one that fails writes nothing (the limits are in
docs/api.md, "Limits"):
- times that happened: from 1970-01-01 to a day from now (clock skew), stored in UTC;
- birthdays: from 1900-01-01 to today;
- time zones: an IANA name the CRM's time-zone database knows (``core.time_zones``);
- money: at most ``MAX_MONEY`` per amount, per order and per converted total;
- text: no NUL, at any depth (tags included);
- free-form JSON (an event's payload, a segment rule): ``MAX_JSON_DEPTH`` levels,
  ``MAX_JSON_KEYS`` keys an object, ``MAX_JSON_STRING`` characters a string;
- bytes: valid UTF-8 and JSON no deeper than the decoder can follow.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator, validate_email

from core.payloads import DecimalString, Pattern, Payload, Problems, Text, check_json
from core.time_zones import MAX_LENGTH as TIME_ZONE_LENGTH
from core.time_zones import time_zone_problem
from customers.services.addresses import address_key
from customers.services.currency import MAX_AMOUNT
from customers.services.customers import CustomerData
from customers.services.events import EventData
from customers.services.orders import LineData, OrderData
from customers.services.products import FIELDS as PRODUCT_FIELDS
from customers.services.products import ProductData
from customers.services.refunds import RefundData


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


MAX_MONEY = MAX_AMOUNT  # each amount; the lines' sum and the converted total: orders_ingest
ZERO = Decimal("0.00")

# Times of things that happened: not before 1970, and at most a day ahead of the server's
# clock (a sender's clock may run fast; a year 9999 is a typo, not skew).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(days=1)
SKEW_OR_TYPO = timedelta(days=366)  # further ahead than this reads as a typo
EARLIEST_BIRTHDAY = date(1900, 1, 1)


AwareDateTime = Annotated[
    datetime,
    msgspec.Meta(
        tz=True, description="ISO 8601 with a time-zone offset; from 1970-01-01 to a day from now; stored in UTC"
    ),
]
# A JSON string, never a number: a number has usually been a binary float on its way here.
Money = Annotated[
    DecimalString,
    msgspec.Meta(description=f'A decimal string such as "59.90" (a JSON number is refused); from 0 to {MAX_AMOUNT}'),
]
Country = Pattern(
    r"^([A-Za-z]{2})?$", words="a two-letter country code such as DE, or empty", description="ISO 3166-1 alpha-2"
)
Currency = Pattern(r"^[A-Za-z]{3}$", words="a three-letter currency code such as USD", description="ISO 4217, e.g. USD")
EventType = Pattern(
    r"^[a-z][a-z0-9_.:-]{0,63}$",
    words='a lower-case name such as cart_abandoned: a letter, then up to 63 letters, digits or "_.:-"',
    description="e.g. cart_abandoned",
)
OrderStatus = Literal["placed", "paid", "fulfilled", "cancelled", "refunded"]


def _check_money(problems: Problems, field: str, value: Decimal | None, *, positive: bool = False) -> None:
    if value is None:
        return
    if not value.is_finite():
        problems.add(field, "Enter a number.")
    elif value < 0 or (positive and value == 0):
        problems.add(field, "Must be greater than 0." if positive else "Must be at least 0.")
    elif value > MAX_MONEY:
        problems.add(field, f"Must be at most {MAX_MONEY}.")
    elif value.as_tuple().exponent < -2:  # type: ignore[operator]  # finite: an int exponent
        problems.add(field, "At most 2 decimal places.")


WINDOW_TEXT = "times from 1970-01-01T00:00Z to a day from now are accepted."


def _moment(problems: Problems, field: str, value: datetime | None) -> datetime | None:
    """A time something happened, in UTC; refused (and returned as sent) outside
    1970-01-01 .. now + a day.

    Compared before it is converted: year 1 at +14:00 has no UTC equivalent in Python, and
    PostgreSQL refuses offsets beyond ±15:59, which the JSON may carry (up to ±23:59).
    """
    if value is None:
        return None
    now = datetime.now(UTC)
    if value < EARLIEST:
        # Near the edge the local year is in range and only the UTC time is not: say so.
        said = f"Year {value.year}" if value.year < EARLIEST.year else f"{value.isoformat()} (before 1970 in UTC)"
        problems.add(field, f"{said} is out of range: {WINDOW_TEXT}")
        return value
    if value > now + CLOCK_SKEW:
        ahead = value - now
        if ahead > SKEW_OR_TYPO:
            problems.add(field, f"Year {value.year} is out of range: {WINDOW_TEXT}")
            return value
        hours = int(ahead.total_seconds() // 3600)
        problems.add(
            field,
            f"Is in the future by more than a day ({_plural(hours // 24, 'day')} {_plural(hours % 24, 'hour')} "
            "ahead of the CRM's "
            "clock): check the sending system's clock.",
        )
        return value
    return value.astimezone(UTC)


def _check_birthday(problems: Problems, value: date | None) -> None:
    if value is not None and not EARLIEST_BIRTHDAY <= value <= datetime.now(UTC).date() + timedelta(days=1):
        # A day of slack: it is already tomorrow east of UTC.
        problems.add("birthday", f"Must be between {EARLIEST_BIRTHDAY} and today.")


class CustomerIn(Payload, kw_only=True):
    external_id: Text(255) = ""
    email: Text(254) = ""
    first_name: Text(150) = ""
    last_name: Text(150) = ""
    phone: Text(32) = ""
    country: Country = ""
    birthday: date | None = None
    time_zone: Annotated[
        str,
        msgspec.Meta(
            max_length=TIME_ZONE_LENGTH,
            description="IANA time zone, e.g. Europe/Berlin: campaigns send at the customer's hour and keep "
            "their quiet hours",
        ),
    ] = ""
    marketing_consent: bool | None = None
    source: Text(100) = ""
    utm_source: Text(100) = ""
    utm_medium: Text(100) = ""
    utm_campaign: Text(100) = ""
    tags: Annotated[list[Text(64)], msgspec.Meta(max_length=50)] = []

    def check(self, problems: Problems) -> None:
        self.external_id, self.email = self.external_id.strip(), self.email.strip()
        if not self.external_id and not self.email:
            problems.add("external_id", "Give the customer an external_id or an email.")
        if self.email:
            try:
                validate_email(self.email)
            except DjangoValidationError:
                problems.add("email", "Enter a valid email address.")
        self.country = self.country.upper()
        _check_birthday(problems, self.birthday)
        self.time_zone = self.time_zone.strip()
        if self.time_zone and (problem := time_zone_problem(self.time_zone)):
            problems.add("time_zone", problem)

    def to_data(self) -> CustomerData:
        return CustomerData(
            **{name: getattr(self, name) for name in self.__struct_fields__ if name != "tags"},
            tags=tuple(self.tags),
        )


class LineIn(Payload, kw_only=True):
    quantity: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    unit_price: Money
    sku: Text(100) = ""
    name: Text(255) = ""
    category: Text(100) = ""

    def check(self, problems: Problems) -> None:
        _check_money(problems, "unit_price", self.unit_price)
        if not self.name and not self.sku:
            problems.add("name", "A line needs a name or a sku.")

    def to_data(self) -> LineData:
        return LineData(
            name=self.name or self.sku,
            quantity=self.quantity,
            unit_price=self.unit_price,
            sku=self.sku,
            category=self.category,
        )


class AddressIn(Payload, kw_only=True):
    """Where an order ships. Only a fingerprint of it is stored (``Order.shipping_address_key``)."""

    line1: Text(255)
    line2: Text(255) = ""
    city: Text(100) = ""
    postal_code: Text(20) = ""
    country: Country = ""

    def check(self, problems: Problems) -> None:
        if not self.line1.strip():
            problems.add("line1", "This field may not be blank.")


class OrderIn(Payload, kw_only=True):
    external_id: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    placed_at: AwareDateTime
    currency: Currency
    total: Money
    customer: CustomerIn
    status: OrderStatus = "placed"
    subtotal: Money | None = None
    discount_total: Money = ZERO
    shipping_total: Money = ZERO
    tax_total: Money = ZERO
    discount_code: Text(100) = ""
    source: Text(100) = ""
    utm_source: Text(100) = ""
    utm_medium: Text(100) = ""
    utm_campaign: Text(100) = ""
    shipping_address: AddressIn | None = None
    lines: Annotated[list[LineIn], msgspec.Meta(max_length=500)] = []

    def check(self, problems: Problems) -> None:
        for name in ("total", "subtotal", "discount_total", "shipping_total", "tax_total"):
            _check_money(problems, name, getattr(self, name))
        self.currency = self.currency.upper()
        self.placed_at = _moment(problems, "placed_at", self.placed_at)

    def to_data(self) -> OrderData:
        fields = {name: getattr(self, name) for name in self.__struct_fields__ if name != "shipping_address"}
        fields.update(customer=self.customer.to_data(), lines=tuple(line.to_data() for line in self.lines))
        if self.shipping_address is not None:
            a = self.shipping_address
            fields["shipping_address_key"] = address_key(a.line1, a.line2, a.city, a.postal_code, a.country)
        return OrderData(**fields)


class BulkOrdersIn(Payload):
    """The bulk envelope. Items stay raw so each is validated, and fails, on its own."""

    orders: Annotated[list[msgspec.Raw], msgspec.Meta(min_length=1, max_length=1000)]


class BulkOrdersDoc(Payload):
    """The bulk envelope as documented: 1 to 1,000 orders."""

    orders: Annotated[list[OrderIn], msgspec.Meta(min_length=1, max_length=1000)]


class RefundIn(Payload, kw_only=True):
    amount: Money
    refunded_at: AwareDateTime | None = None
    reason: Text(255) = ""
    external_id: Text(255) = ""

    def check(self, problems: Problems) -> None:
        _check_money(problems, "amount", self.amount, positive=True)
        self.refunded_at = _moment(problems, "refunded_at", self.refunded_at)

    def to_data(self, now: datetime) -> RefundData:
        return RefundData(
            amount=self.amount, refunded_at=self.refunded_at or now, reason=self.reason, external_id=self.external_id
        )


class EventIn(Payload, kw_only=True):
    type: EventType
    customer: CustomerIn
    occurred_at: AwareDateTime | None = None
    payload: dict[str, Any] = {}
    external_id: Text(255) = ""

    def check(self, problems: Problems) -> None:
        check_json(problems, "payload", self.payload)
        self.occurred_at = _moment(problems, "occurred_at", self.occurred_at)

    def to_data(self, now: datetime) -> EventData:
        return EventData(
            type=self.type,
            occurred_at=self.occurred_at or now,
            customer=self.customer.to_data(),
            payload=self.payload,
            external_id=self.external_id,
        )


_URL = URLValidator(schemes=["http", "https"])


class ProductIn(Payload, kw_only=True):
    """One product of the shop's catalogue. A field left out keeps its value (a new product:
    its name is the sku, active and in stock, not consumable)."""

    sku: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | msgspec.UnsetType = msgspec.UNSET
    category: Text(100) | msgspec.UnsetType = msgspec.UNSET
    price: Money | msgspec.UnsetType = msgspec.UNSET
    currency: Currency | msgspec.UnsetType = msgspec.UNSET
    url: Annotated[str, msgspec.Meta(max_length=500, description="http(s); empty: none")] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    is_active: bool | msgspec.UnsetType = msgspec.UNSET
    in_stock: bool | msgspec.UnsetType = msgspec.UNSET
    replenish_days: (
        Annotated[
            int,
            msgspec.Meta(
                ge=1, le=3650, description="A consumable is due again this many days after a purchase; null: not one"
            ),
        ]
        | None
        | msgspec.UnsetType
    ) = msgspec.UNSET

    def check(self, problems: Problems) -> None:
        if not isinstance(self.price, msgspec.UnsetType):
            _check_money(problems, "price", self.price)
        if isinstance(self.currency, str):
            self.currency = self.currency.upper()
        if isinstance(self.url, str) and self.url:
            try:
                _URL(self.url)
            except DjangoValidationError:
                problems.add("url", "Enter an http or https URL.")

    def to_data(self) -> ProductData:
        values = {name: getattr(self, name) for name in PRODUCT_FIELDS}
        return ProductData(
            sku=self.sku, values={k: v for k, v in values.items() if not isinstance(v, msgspec.UnsetType)}
        )


class ProductsIn(Payload):
    """1 to 1,000 products, each sku once."""

    products: Annotated[list[ProductIn], msgspec.Meta(min_length=1, max_length=1000)]

    def check(self, problems: Problems) -> None:
        seen: set[str] = set()
        for i, item in enumerate(self.products):
            if item.sku in seen:
                problems.add(f"products[{i}].sku", "This sku is already in the request.")
            seen.add(item.sku)


class _ExternalIdOnly(Payload):
    external_id: Any = None


def external_id_of(raw: msgspec.Raw) -> str | None:
    """A refused bulk item's ``external_id`` as sent, if it is a string, so the sender can match
    the error to its order (the item as a whole failed to decode, so it was never read)."""
    try:
        found = msgspec.json.decode(raw, type=_ExternalIdOnly).external_id
    except msgspec.MsgspecError:
        return None
    return found if isinstance(found, str) else None
