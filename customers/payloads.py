"""What shops send: the inbound payloads of the API and the CSV import, as msgspec structs.

msgspec decodes and validates a JSON body in one pass in C, about twenty times faster than
DRF serializers: that is what lets one request carry 1,000 orders (docs/architecture.md).
The structs are also the OpenAPI schema of the request bodies (crm/api/schema.py), so the
documentation and the validation cannot drift apart. Outbound bodies stay DRF serializers.

Errors come back as ``{"field.path": ["message"]}``: msgspec names the path
(``lines[0].quantity``); checks in ``__post_init__`` name their field as ``"field|message"``.
"""

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email

from customers.services.addresses import address_key
from customers.services.customers import CustomerData
from customers.services.errors import DomainError
from customers.services.events import EventData
from customers.services.orders import LineData, OrderData
from customers.services.refunds import RefundData

MAX_MONEY = Decimal("999999999999.99")
ZERO = Decimal("0.00")


def Text(max_length: int):  # noqa: N802 - reads as a type
    return Annotated[str, msgspec.Meta(max_length=max_length)]


AwareDateTime = Annotated[datetime, msgspec.Meta(tz=True, description="ISO 8601 with a time-zone offset")]
Money = Annotated[Decimal, msgspec.Meta(description='A decimal string such as "59.90"; at least 0')]
OrderStatus = Literal["placed", "paid", "fulfilled", "cancelled", "refunded"]


class PayloadError(DomainError):
    """An invalid body: ``errors`` maps each field path to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        field, messages = next(iter(errors.items()))
        super().__init__(f"Invalid input: {field}: {messages[0]}", field=field)
        self.errors = errors


def _fail(field: str, message: str):
    raise ValueError(f"{field}|{message}")


def _check_money(field: str, value: Decimal | None, *, positive: bool = False) -> None:
    if value is None:
        return
    if not value.is_finite():
        _fail(field, "Enter a number.")
    if value < 0 or (positive and value == 0):
        _fail(field, "Must be greater than 0." if positive else "Must be at least 0.")
    if value > MAX_MONEY:
        _fail(field, f"Must be at most {MAX_MONEY}.")
    if value.as_tuple().exponent < -2:
        _fail(field, "At most 2 decimal places.")


def _check_text(struct: msgspec.Struct) -> None:
    """Refuse what PostgreSQL cannot store in a text column: NUL and lone surrogates."""
    for name in struct.__struct_fields__:
        value = getattr(struct, name)
        if isinstance(value, str) and value:
            if "\x00" in value:
                _fail(name, "Must not contain NUL characters.")
            try:
                value.encode()
            except UnicodeEncodeError:
                _fail(name, "Must be valid Unicode text.")


class CustomerIn(msgspec.Struct, kw_only=True):
    external_id: Text(255) = ""
    email: Text(254) = ""
    first_name: Text(150) = ""
    last_name: Text(150) = ""
    phone: Text(32) = ""
    country: Annotated[str, msgspec.Meta(pattern=r"^([A-Za-z]{2})?$", description="ISO 3166-1 alpha-2")] = ""
    birthday: date | None = None
    marketing_consent: bool | None = None
    source: Text(100) = ""
    utm_source: Text(100) = ""
    utm_medium: Text(100) = ""
    utm_campaign: Text(100) = ""
    tags: Annotated[list[Text(64)], msgspec.Meta(max_length=50)] = []

    def __post_init__(self):
        _check_text(self)
        self.external_id, self.email = self.external_id.strip(), self.email.strip()
        if not self.external_id and not self.email:
            _fail("external_id", "Give the customer an external_id or an email.")
        if self.email:
            try:
                validate_email(self.email)
            except DjangoValidationError:
                _fail("email", "Enter a valid email address.")
        self.country = self.country.upper()

    def to_data(self) -> CustomerData:
        return CustomerData(
            **{name: getattr(self, name) for name in self.__struct_fields__ if name != "tags"},
            tags=tuple(self.tags),
        )


class LineIn(msgspec.Struct, kw_only=True):
    quantity: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    unit_price: Money
    sku: Text(100) = ""
    name: Text(255) = ""
    category: Text(100) = ""

    def __post_init__(self):
        _check_text(self)
        _check_money("unit_price", self.unit_price)
        if not self.name and not self.sku:
            _fail("name", "A line needs a name or a sku.")

    def to_data(self) -> LineData:
        return LineData(
            name=self.name or self.sku,
            quantity=self.quantity,
            unit_price=self.unit_price,
            sku=self.sku,
            category=self.category,
        )


class AddressIn(msgspec.Struct, kw_only=True):
    """Where an order ships. Only a fingerprint of it is stored (``Order.shipping_address_key``)."""

    line1: Text(255)
    line2: Text(255) = ""
    city: Text(100) = ""
    postal_code: Text(20) = ""
    country: Annotated[str, msgspec.Meta(pattern=r"^([A-Za-z]{2})?$", description="ISO 3166-1 alpha-2")] = ""

    def __post_init__(self):
        _check_text(self)
        if not self.line1.strip():
            _fail("line1", "This field may not be blank.")


class OrderIn(msgspec.Struct, kw_only=True):
    external_id: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    placed_at: AwareDateTime
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{3}$", description="ISO 4217, e.g. USD")]
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

    def __post_init__(self):
        _check_text(self)
        for name in ("total", "subtotal", "discount_total", "shipping_total", "tax_total"):
            _check_money(name, getattr(self, name))
        self.currency = self.currency.upper()

    def to_data(self) -> OrderData:
        fields = {name: getattr(self, name) for name in self.__struct_fields__ if name != "shipping_address"}
        fields.update(customer=self.customer.to_data(), lines=tuple(line.to_data() for line in self.lines))
        if self.shipping_address is not None:
            a = self.shipping_address
            fields["shipping_address_key"] = address_key(a.line1, a.line2, a.city, a.postal_code, a.country)
        return OrderData(**fields)


class BulkOrdersIn(msgspec.Struct):
    """The bulk envelope. Items stay raw so each is validated, and fails, on its own."""

    orders: Annotated[list[msgspec.Raw], msgspec.Meta(min_length=1, max_length=1000)]


class BulkOrdersDoc(msgspec.Struct):
    """The bulk envelope as documented: 1 to 1,000 orders."""

    orders: Annotated[list[OrderIn], msgspec.Meta(min_length=1, max_length=1000)]


class RefundIn(msgspec.Struct, kw_only=True):
    amount: Money
    refunded_at: AwareDateTime | None = None
    reason: Text(255) = ""
    external_id: Text(255) = ""

    def __post_init__(self):
        _check_text(self)
        _check_money("amount", self.amount, positive=True)

    def to_data(self, now: datetime) -> RefundData:
        return RefundData(
            amount=self.amount, refunded_at=self.refunded_at or now, reason=self.reason, external_id=self.external_id
        )


class EventIn(msgspec.Struct, kw_only=True):
    type: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_.:-]{0,63}$", description="e.g. cart_abandoned")]
    customer: CustomerIn
    occurred_at: AwareDateTime | None = None
    payload: dict[str, Any] = {}
    external_id: Text(255) = ""

    def __post_init__(self):
        _check_text(self)
        try:
            encoded = msgspec.json.encode(self.payload)
        except (UnicodeEncodeError, ValueError, TypeError):
            _fail("payload", "Must be valid Unicode text.")
        if b"\\u0000" in encoded:
            _fail("payload", "Must not contain NUL characters.")

    def to_data(self, now: datetime) -> EventData:
        return EventData(
            type=self.type,
            occurred_at=self.occurred_at or now,
            customer=self.customer.to_data(),
            payload=self.payload,
            external_id=self.external_id,
        )


_MISSING = re.compile(r"^Object missing required field `(.+)`$")


# Not msgspec's own messages, which may hold a "|" too ("Expected `object | null`").
_OWN_FAILURE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)\|(.*)$", re.DOTALL)


def errors_of(exc: msgspec.ValidationError) -> dict[str, list[str]]:
    """msgspec's one-line error as ``{"field.path": [message]}``."""
    message, sep, path = str(exc).rpartition(" - at `")
    if not sep:
        message, path = str(exc), "$`"
    path = path.rstrip("`")
    field = path[2:] if path.startswith("$.") else path[1:]
    if match := _MISSING.match(message):
        field, message = (f"{field}.{match[1]}" if field else match[1]), "This field is required."
    elif match := _OWN_FAILURE.match(message):  # raised by _fail: "name|message"
        name, message = match[1], match[2]
        field = f"{field}.{name}" if field else name
    return {field or "non_field_errors": [message]}


def decode[T](body: bytes, type_: type[T]) -> T:
    """Decode and validate a JSON body, or raise PayloadError naming the field."""
    try:
        return msgspec.json.decode(body or b"null", type=type_)
    except msgspec.ValidationError as exc:
        raise PayloadError(errors_of(exc)) from exc
    except msgspec.DecodeError as exc:
        raise PayloadError({"body": [f"Malformed JSON: {exc}"]}) from exc


def convert[T](obj: Any, type_: type[T]) -> T:
    """Validate already-parsed values (strings from a CSV are coerced), or raise PayloadError."""
    try:
        return msgspec.convert(obj, type=type_, strict=False)
    except msgspec.ValidationError as exc:
        raise PayloadError(errors_of(exc)) from exc
