"""Phone numbers as a search compares them: digits only, without the international prefix.

People write one number many ways: "+39 06 1234-5678", "0039 (06) 1234.5678",
"06 12345678". The CRM stores what the shop sent (``Customer.phone``) and, beside it, the
number without spaces, dashes, dots, slashes, parentheses and plus signs, and without a
leading "00" (``Customer.phone_digits``, a column the database computes with
``phone_digits_sql``). Staff search applies ``phone_digits`` to what they type and compares
the two, so an agent can type the number however the caller says it.

The same number is also written with or without its country code ("+1 450 895 0550",
"450.895.0550") or its national trunk 0 ("+49 30 1234 5678", "030 1234 5678").
``phone_match`` reads a typed number as the few conditions that find it stored either way:
the stored digits end with the typed number's last ``PHONE_TAIL`` digits, and, for a number
stored in national form whose significant part is shorter than that, the stored digits are
the end of the typed ones (with or without a trunk 0).

The Python and the SQL must agree: ``customers/tests/test_customer_search.py`` checks that
the database stores what ``phone_digits`` returns.
"""

from dataclasses import dataclass

from django.db.models import CharField, F, Value
from django.db.models.expressions import Case, Combinable, When
from django.db.models.functions import Replace, Substr
from django.db.models.lookups import StartsWith

# What a number may be written with besides its digits.
PHONE_PUNCTUATION = (" ", "-", ".", "/", "(", ")", "+")
# An international prefix written as "00" instead of "+".
INTERNATIONAL_PREFIX = "00"
# The national trunk prefix many countries dial before an area code (030 …, 020 …).
TRUNK_PREFIX = "0"
# The digits two numbers must share at their end to be one number written two ways: enough
# to be specific among a million customers, few enough to leave out a country code (1 to 3
# digits) and a trunk 0 in front of a national number of 9 or more digits (US, UK, DE, FR…).
PHONE_TAIL = 9
# The shortest national number (without its trunk 0) a stored number is found by when the
# typed one is longer than it ("+49 89 123456" finds "089 123456").
MIN_NATIONAL = 7


def phone_digits(value: str) -> str:
    """``value`` without phone punctuation and without a leading "00" (same as the column)."""
    for character in PHONE_PUNCTUATION:
        value = value.replace(character, "")
    return value.removeprefix(INTERNATIONAL_PREFIX)


def phone_digits_sql(column: str) -> Combinable:
    """``phone_digits`` as a database expression over ``column`` (the generated column's)."""
    stripped: Combinable = F(column)
    for character in PHONE_PUNCTUATION:
        stripped = Replace(stripped, Value(character), Value(""))
    return Case(
        When(StartsWith(stripped, INTERNATIONAL_PREFIX), then=Substr(stripped, len(INTERNATIONAL_PREFIX) + 1)),
        default=stripped,
        output_field=CharField(),
    )


@dataclass(frozen=True)
class PhoneMatch:
    """How a typed number is looked up (all in the digits of ``phone_digits``)."""

    # Stored numbers ending with this match (its end, at most PHONE_TAIL digits).
    tail: str
    # Stored numbers equal to one of these match: the typed number's shorter ends, with or
    # without a trunk 0, for a number stored nationally with fewer than PHONE_TAIL digits.
    whole: tuple[str, ...] = ()


def phone_match(digits: str) -> PhoneMatch:
    """The lookup for ``digits`` (already ``phone_digits``) that finds the number however
    it was stored. A short term (under PHONE_TAIL digits) is the end of a number, as typed.
    A longer one may carry a country code or a trunk 0 the stored number lacks, or lack one
    the stored number has: only its last PHONE_TAIL digits are compared, without the trunk
    0 of a national number ("089 123456", whose significant part is 8 digits)."""
    if len(digits) < PHONE_TAIL:
        return PhoneMatch(digits)
    national = digits.removeprefix(TRUNK_PREFIX) if len(digits) == PHONE_TAIL else digits
    tail = national[-PHONE_TAIL:]
    if len(digits) == PHONE_TAIL:
        return PhoneMatch(tail)  # a national number, or the end of one: as typed
    ends = [tail[-length:] for length in range(MIN_NATIONAL, len(tail))]
    return PhoneMatch(tail, tuple(sorted({*ends, *(TRUNK_PREFIX + end for end in ends)})))
