"""Phone numbers as a search compares them: digits only, without the international prefix.

People write one number many ways: "+39 06 1234-5678", "0039 (06) 1234.5678",
"06 12345678". The CRM stores what the shop sent (``Customer.phone``) and, beside it, the
number without spaces, dashes, dots, slashes, parentheses and plus signs, and without a
leading "00" (``Customer.phone_digits``, a column the database computes with
``phone_digits_sql``). Staff search applies ``phone_digits`` to what they type and compares
the two, so an agent can type the number however the caller says it.

The Python and the SQL must agree: ``customers/tests/test_customer_search.py`` checks that
the database stores what ``phone_digits`` returns.
"""

from django.db.models import CharField, F, Value
from django.db.models.expressions import Case, Combinable, When
from django.db.models.functions import Replace, Substr
from django.db.models.lookups import StartsWith

# What a number may be written with besides its digits.
PHONE_PUNCTUATION = (" ", "-", ".", "/", "(", ")", "+")
# An international prefix written as "00" instead of "+".
INTERNATIONAL_PREFIX = "00"


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
