"""Values from the platforms' payloads as the CRM's columns hold them; a value that cannot
be held raises ``DeliveryError`` naming the field."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from crm.connectors.errors import DeliveryError
from customers.models import ZERO
from customers.services.currency import MAX_AMOUNT

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TAGS = 50


def text(value, length: int) -> str:
    """Text as a column holds it: no NUL (PostgreSQL refuses it), cut to the column's length."""
    if value is None:
        return ""
    return str(value).replace("\x00", "").strip()[:length]


def money(value, field: str) -> Decimal:
    if value is None or value == "":
        return ZERO
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise DeliveryError(f"{field}: {value!r} is not an amount.") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise DeliveryError(f"{field}: {value} is out of range (0 to {MAX_AMOUNT}).")
    return amount


def moment(value, field: str, *, required: bool = False, naive_is_utc: bool = False) -> datetime | None:
    if not value:
        if required:
            raise DeliveryError(f"{field}: missing.")
        return None
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        raise DeliveryError(f"{field}: {value!r} is not an ISO 8601 time.") from None
    if at.tzinfo is None and naive_is_utc:  # WooCommerce's *_gmt fields
        at = at.replace(tzinfo=UTC)
    if at.tzinfo is None:
        raise DeliveryError(f"{field}: {value!r} has no time-zone offset.")
    if at < EARLIEST or at > timezone.now() + timedelta(days=1):
        raise DeliveryError(f"{field}: {value} is out of range (1970 to a day from now).")
    return at.astimezone(UTC)


def required_id(value, field: str) -> str:
    """An id as the platform sends it: a whole number or text. A number with a fraction or an
    exponent (``1e30``) is refused: two such ids could print as one."""
    if isinstance(value, float | bool):
        raise DeliveryError(f"{field}: {value!r} is not an id (a whole number or text).")
    found = text(value, 255)
    if not found:
        raise DeliveryError(f"{field}: missing.")
    return found


def email_or_blank(value) -> str:
    email = text(value, 254)
    try:
        validate_email(email)
    except ValidationError:
        return ""
    return email


def country_of(*addresses: dict | None) -> str:
    for address in addresses:
        code = text((address or {}).get("country_code"), 2).upper()
        if len(code) == 2 and code.isalpha():
            return code
    return ""


def tags_of(value) -> tuple[str, ...]:
    names = value if isinstance(value, list) else str(value or "").split(",")
    return tuple(dict.fromkeys(t for t in (text(n, 64) for n in names) if t))[:MAX_TAGS]
