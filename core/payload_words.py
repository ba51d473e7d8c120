"""What is wrong with a value, in words for the person writing the client.

msgspec says a value's problem in its own terms: "Expected `str` matching regex
'^([A-Za-z]{2})?$'", "Invalid RFC3339 encoded date". ``words`` turns such a message into what
is wrong and what would be right ("Must be a two-letter country code such as DE."), knowing
the type the field expects and the constraints on it (``msgspec.Meta``). A pattern has no
words of its own: a field with one says them in ``Meta(extra={"words": ...})``
(``core.payloads.Pattern``).

Nothing here names a Python type, a regular expression or the decoder.
"""

import re
import types
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Union, get_args, get_origin

import msgspec

EXAMPLE_MONEY = '"19.99"'
EXAMPLE_DATETIME = '"2026-01-02T10:00:00Z" or "2026-01-02T11:00:00+01:00"'
EXAMPLE_DATE = '"1990-02-28"'

NOT_A_DATE = f"Not a calendar date: use YYYY-MM-DD, such as {EXAMPLE_DATE}."
NOT_A_DATETIME = f"Not a date and time: use ISO 8601 with a time-zone offset, such as {EXAMPLE_DATETIME}."
NO_OFFSET = f"Give the time-zone offset too, such as {EXAMPLE_DATETIME}."
REQUIRED = "This field is required."
MONEY_AS_NUMBER = 'Send money as a string such as "10.00", not as a number: a number may have been rounded on its way.'
NOT_MONEY = f"Must be a decimal string such as {EXAMPLE_MONEY}."


def got(value: Any) -> str:
    """What was sent, in words: "text", "a number", "null"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, float):
        return f"{value!r}, a number with a decimal point"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a value of another kind"


def _words_of_meta(metas: list[msgspec.Meta]) -> str | None:
    for meta in metas:
        if meta.extra and meta.extra.get("words"):
            return meta.extra["words"]
    return None


def _one_of(values: tuple) -> str:
    shown = [str(v) for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def expected(base: Any, metas: list[msgspec.Meta] = ()) -> str:  # type: ignore[assignment]
    """What a field takes, in words: "a whole number", "text", "a list"."""
    if said := _words_of_meta(list(metas)):
        return said
    origin = get_origin(base)
    if origin is Literal:
        return f"one of: {_one_of(get_args(base))}"
    if base is bool:
        return "true or false"
    if origin in (Union, types.UnionType):
        members = [m for m in get_args(base) if m not in (type(None), msgspec.UnsetType)]
        kinds = [expected(m) for m in members]
        if type(None) in get_args(base):
            kinds.append("null")
        return _one_of(tuple(kinds))
    if origin is list or base is list:
        return "a list"
    if origin is dict or base is dict:
        return "an object"
    if isinstance(base, type):
        if issubclass(base, msgspec.Struct):
            return "an object"
        if issubclass(base, bool):
            return "true or false"
        if issubclass(base, int):
            return "a whole number"
        if issubclass(base, float):
            return "a number"
        if issubclass(base, Decimal):
            return f"a decimal string such as {EXAMPLE_MONEY}"
        if issubclass(base, datetime):
            return f"a date and time such as {EXAMPLE_DATETIME}"
        if issubclass(base, date):
            return f"a date such as {EXAMPLE_DATE}"
        if issubclass(base, str):
            return "text"
    return "a value of the documented kind"


_MISMATCH = re.compile(r"^Expected `[^`]+`, got `[^`]+`$")
_PATTERN = re.compile(r"^Expected `str` matching regex ")
_LENGTH = re.compile(r"^Expected `(str|array|object)` of length (<=|>=) (\d+)$")
_BOUND = re.compile(r"^Expected `(int|float|decimal)` (>=|<=|>|<) (\S+)$")
_AT = re.compile(r" - at `\$[^`]*`$")
_SIDES = {">=": "at least", "<=": "at most", ">": "greater than", "<": "less than"}
_COUNTED = {"str": "character", "array": "item", "object": "key"}


def words(message: str, base: Any = None, metas: list[msgspec.Meta] = (), value: Any = None) -> str:  # type: ignore[assignment]
    """msgspec's ``message`` about ``value`` (sent for a field of type ``base`` with ``metas``)
    as a sentence for a person. Messages of the payloads' own hooks are words already."""
    message = _AT.sub("", message)
    metas = list(metas)
    if _MISMATCH.match(message):
        if base is None:
            return "Is not of the kind this field takes: see its description in docs/api.md."
        return f"Must be {expected(base, metas)}, not {got(value)}."
    if _PATTERN.match(message):
        return f"Must be {_words_of_meta(metas) or 'in the format given in docs/api.md'}."
    if match := _LENGTH.match(message):
        kind, side, n = match[1], match[2], int(match[3])
        if kind == "str" and side == ">=" and n == 1:
            return "This field may not be blank."
        unit = _COUNTED[kind] + ("" if n == 1 else "s")
        if kind == "str":
            return f"Must be {_SIDES[side]} {n} {unit} long."
        return f"Must have {_SIDES[side]} {n} {unit}."
    if match := _BOUND.match(message):
        return f"Must be {_SIDES[match[2]]} {match[3]}."
    if message == "Invalid RFC3339 encoded date":
        return NOT_A_DATE
    if message == "Invalid RFC3339 encoded datetime":
        return NOT_A_DATETIME
    if message == "Expected `datetime` with a timezone component":
        return NO_OFFSET
    if message.startswith("Invalid enum value"):
        if base is not None and get_origin(base) is Literal:
            return f"Must be one of: {_one_of(get_args(base))}."
        return "Is not one of the values this field takes: see docs/api.md."
    if message.startswith("Object missing required field"):
        return REQUIRED
    if "`" in message or message.startswith(("Expected", "Invalid")):
        # A message of the decoder's that has no words here yet: say something true without
        # its internals (the catalogue test, crm/tests/test_payload_messages.py, finds these).
        return "Is not a value this field takes: see its description in docs/api.md."
    return message
