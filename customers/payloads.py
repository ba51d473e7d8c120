"""What shops send: the inbound payloads of the API and the CSV import, as msgspec structs.

msgspec decodes and validates a JSON body in one pass in C, about twenty times faster than
DRF serializers: that is what lets one request carry 1,000 orders (docs/architecture.md).
The structs are also the OpenAPI schema of the request bodies (crm/api/schema.py), so the
documentation and the validation cannot drift apart. Outbound bodies stay DRF serializers.

Errors come back as ``{"field.path": ["message"]}``: msgspec names the path
(``lines[0].quantity``); checks in ``__post_init__`` name their field through ``_fail``.

Every value is checked here against what its column and every later sum can hold, so a
request that passes is written whole and one that fails writes nothing (the limits are in
docs/api.md, "Limits"):
- times that happened: from 1970-01-01 to a day from now (clock skew), stored in UTC;
- birthdays: from 1900-01-01 to today;
- money: at most ``MAX_MONEY`` per amount, per order and per converted total;
- text: no NUL, at any depth (tags included);
- free-form JSON (an event's payload, a segment rule): ``MAX_JSON_DEPTH`` levels,
  ``MAX_JSON_KEYS`` keys an object, ``MAX_JSON_STRING`` characters a string;
- bytes: valid UTF-8 and JSON no deeper than the decoder can follow.
"""

import json
import re
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email

from customers.services.addresses import address_key
from customers.services.currency import MAX_AMOUNT
from customers.services.customers import CustomerData
from customers.services.errors import DomainError
from customers.services.events import EventData
from customers.services.orders import LineData, OrderData
from customers.services.refunds import RefundData

MAX_MONEY = MAX_AMOUNT  # each amount; the lines' sum and the converted total: orders_ingest
ZERO = Decimal("0.00")

# Times of things that happened: not before 1970, and at most a day ahead of the server's
# clock (a sender's clock may run fast; a year 9999 is a typo, not skew).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(days=1)
SKEW_OR_TYPO = timedelta(days=366)  # further ahead than this reads as a typo
EARLIEST_BIRTHDAY = date(1900, 1, 1)

# Free-form JSON (an event's payload, a segment rule), kept whole and read back by the admin.
MAX_JSON_DEPTH = 32
MAX_JSON_KEYS = 1000
MAX_JSON_STRING = 10_000


def Text(max_length: int):  # noqa: N802 - reads as a type
    return Annotated[str, msgspec.Meta(max_length=max_length)]


AwareDateTime = Annotated[
    datetime,
    msgspec.Meta(
        tz=True, description="ISO 8601 with a time-zone offset; from 1970-01-01 to a day from now; stored in UTC"
    ),
]
Money = Annotated[Decimal, msgspec.Meta(description=f'A decimal string such as "59.90"; from 0 to {MAX_AMOUNT}')]
OrderStatus = Literal["placed", "paid", "fulfilled", "cancelled", "refunded"]


class PayloadError(DomainError):
    """An invalid body: ``errors`` maps each field path to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        field, messages = next(iter(errors.items()))
        super().__init__(f"Invalid input: {field}: {messages[0]}", field=field)
        self.errors = errors


def _fail(field: str, message: str):
    """Refuse the value of ``field`` (a path within the struct: ``tags[1]``)."""
    # Control characters around the field keep it apart from any text msgspec's own messages hold.
    raise ValueError(f"\x1f{field}\x1f{message}")


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


def _text_problem(value: str) -> str | None:
    """What PostgreSQL cannot store in a text column: NUL, and lone surrogates (from a CSV)."""
    if "\x00" in value:
        return "Must not contain NUL characters."
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            return "Must be valid Unicode text."
    return None


# False while ``decode`` reads a body in which no string can hold NUL or a lone surrogate:
# JSON carries NUL only as the escape \u0000 (msgspec refuses raw control characters), and
# msgspec refuses lone surrogates and invalid UTF-8. One scan of the bytes in C then spares
# a Python loop over every field of every struct (a fifth of a bulk request's decoding).
_scan_text: ContextVar[bool] = ContextVar("scan_text", default=True)


def _check_text(struct: msgspec.Struct) -> None:
    """Refuse NUL and lone surrogates in the struct's text fields and lists of text (tags).

    Nested structs check their own fields in their ``__post_init__``; free-form JSON goes
    through ``_check_json``."""
    if not _scan_text.get():
        return
    for name in struct.__struct_fields__:
        value = getattr(struct, name)
        if isinstance(value, str):
            if value and (problem := _text_problem(value)):
                _fail(name, problem)
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, str) and (problem := _text_problem(item)):
                    _fail(f"{name}[{i}]", problem)


WINDOW_TEXT = "times from 1970-01-01T00:00Z to a day from now are accepted."


def _moment(field: str, value: datetime | None) -> datetime | None:
    """A time something happened, in UTC; refused outside 1970-01-01 .. now + a day.

    Compared before it is converted: year 1 at +14:00 has no UTC equivalent in Python, and
    PostgreSQL refuses offsets beyond ±15:59, which the JSON may carry (up to ±23:59).
    """
    if value is None:
        return None
    now = datetime.now(UTC)
    if value < EARLIEST:
        # Near the edge the local year is in range and only the UTC time is not: say so.
        said = f"Year {value.year}" if value.year < EARLIEST.year else f"{value.isoformat()} (before 1970 in UTC)"
        _fail(field, f"{said} is out of range: {WINDOW_TEXT}")
    if value > now + CLOCK_SKEW:
        ahead = value - now
        if ahead > SKEW_OR_TYPO:
            _fail(field, f"Year {value.year} is out of range: {WINDOW_TEXT}")
        hours = int(ahead.total_seconds() // 3600)
        _fail(
            field,
            f"Is in the future by more than a day ({hours // 24} days {hours % 24} hours ahead of the CRM's "
            "clock): check the sending system's clock.",
        )
    return value.astimezone(UTC)


def _check_birthday(value: date | None) -> None:
    if value is not None and not EARLIEST_BIRTHDAY <= value <= datetime.now(UTC).date() + timedelta(days=1):
        # A day of slack: it is already tomorrow east of UTC.
        _fail("birthday", f"Must be between {EARLIEST_BIRTHDAY} and today.")


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _json_problem(value: Any, path: str, depth: int = 1) -> tuple[str, str] | None:
    """The first place where free-form JSON breaks a limit, as (path, message), or None."""
    if isinstance(value, str):
        if len(value) > MAX_JSON_STRING:
            return path, f"A text is longer than {MAX_JSON_STRING} characters."
        problem = _text_problem(value)
        return (path, problem) if problem else None
    if isinstance(value, dict | list):
        if depth > MAX_JSON_DEPTH:
            return path, f"Nested deeper than {MAX_JSON_DEPTH} levels."
        if isinstance(value, list):
            items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
        else:
            if len(value) > MAX_JSON_KEYS:
                return path, f"An object has more than {MAX_JSON_KEYS} keys."
            for key in value:
                if len(key) > MAX_JSON_STRING:
                    return path, f"A key is longer than {MAX_JSON_STRING} characters."
                if problem := _text_problem(key):
                    return path, f"A key: {problem}"
            items = (
                (f"{path}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{path}[{json.dumps(key[:40])}]", item)
                for key, item in value.items()
            )
        for item_path, item in items:
            if problem := _json_problem(item, item_path, depth + 1):
                return problem
    return None


def _check_json(field: str, value: Any, *, path_in_message: bool = False) -> None:
    """Refuse free-form JSON over a limit, naming the place: as the field (``payload.items[3]``),
    or, with ``path_in_message``, in the message of ``field`` (a rule's problems are all
    listed under ``rule``)."""
    if problem := _json_problem(value, field):
        where, message = problem
        _fail(field, f"{where}: {message}") if path_in_message else _fail(where, message)


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
        _check_birthday(self.birthday)

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
        self.placed_at = _moment("placed_at", self.placed_at)

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
        self.refunded_at = _moment("refunded_at", self.refunded_at)

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
        _check_json("payload", self.payload)
        self.occurred_at = _moment("occurred_at", self.occurred_at)

    def to_data(self, now: datetime) -> EventData:
        return EventData(
            type=self.type,
            occurred_at=self.occurred_at or now,
            customer=self.customer.to_data(),
            payload=self.payload,
            external_id=self.external_id,
        )


_MISSING = re.compile(r"^Object missing required field `(.+)`$")


# Raised by _fail, not msgspec, whose own messages may quote the sender's text.
_OWN_FAILURE = re.compile(r"^\x1f([^\x1f]*)\x1f(.*)$", re.DOTALL)


def errors_of(exc: msgspec.ValidationError) -> dict[str, list[str]]:
    """msgspec's one-line error as ``{"field.path": [message]}``."""
    message, sep, path = str(exc).rpartition(" - at `")
    if not sep:
        message, path = str(exc), "$`"
    path = path.rstrip("`")
    field = path[2:] if path.startswith("$.") else path[1:]
    if match := _MISSING.match(message):
        field, message = (f"{field}.{match[1]}" if field else match[1]), "This field is required."
    elif match := _OWN_FAILURE.match(message):
        name, message = match[1], match[2]
        field = f"{field}.{name}" if field else name
    return {field or "non_field_errors": [message]}


_LONE_HIGH_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])")


def decode[T](body: bytes, type_: type[T]) -> T:
    """Decode and validate a JSON body, or raise PayloadError naming the field.

    Bytes that cannot be read are errors on ``body`` that say why: malformed JSON, invalid
    UTF-8, or nesting deeper than the decoder follows (it recurses, even over fields it
    skips; free-form fields are held to ``MAX_JSON_DEPTH`` by ``_check_json``).
    """
    data = body if isinstance(body, bytes) else bytes(body)  # or a bulk item's msgspec.Raw
    scan = _scan_text.set(b"\\u0000" in data)
    try:
        if not data.isascii():
            data.decode()  # msgspec checks UTF-8 only in the strings it keeps, not those it skips
        return msgspec.json.decode(data or b"null", type=type_)
    except msgspec.ValidationError as exc:
        raise PayloadError(errors_of(exc)) from exc
    except msgspec.DecodeError as exc:
        if str(exc).endswith("truncated") and _LONE_HIGH_SURROGATE.search(data):
            # msgspec reads a high surrogate's escape as the start of a pair and reports the
            # missing half as the end of the input; the caller's mistake is the lone escape.
            raise PayloadError({"body": ["Malformed JSON: a \\uD800-\\uDBFF escape without its pair."]}) from exc
        raise PayloadError({"body": [f"Malformed JSON: {exc}"]}) from exc
    except UnicodeDecodeError as exc:
        raise PayloadError({"body": [f"The body is not valid UTF-8: {exc.reason}."]}) from exc
    except RecursionError as exc:
        raise PayloadError({"body": [f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels."]}) from exc
    finally:
        _scan_text.reset(scan)


def convert[T](obj: Any, type_: type[T]) -> T:
    """Validate already-parsed values (strings from a CSV are coerced), or raise PayloadError."""
    try:
        return msgspec.convert(obj, type=type_, strict=False)
    except msgspec.ValidationError as exc:
        raise PayloadError(errors_of(exc)) from exc
