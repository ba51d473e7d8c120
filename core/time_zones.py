"""IANA time-zone names the CRM accepts for a customer (``Customer.time_zone``).

A name is accepted only if it is one of the zones of the machine's time-zone database
(``zoneinfo.available_timezones()``, read once per process): a plain lookup, where
``ZoneInfo(name)`` would open a file named after the value and raise a different error for
each way it can be wrong (a path, a NUL, a name too long for the file system). ``localtime``
is left out: it is the server's own zone under another name, not an IANA one.
"""

from functools import cache
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError

MAX_LENGTH = 64  # the column's (Customer.time_zone, CustomerIdentity.time_zone)
NOT_IANA = frozenset({"localtime"})


@cache
def time_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - NOT_IANA


@cache
def _by_lower() -> dict[str, str]:
    return {name.lower(): name for name in time_zones()}


def time_zone_problem(name: str) -> str | None:
    """Why ``name`` is not a time zone the CRM accepts, or None if it is one."""
    if name in time_zones():
        return None
    shown = name if len(name) <= MAX_LENGTH else f"{name[:MAX_LENGTH]}…"
    message = f"Unknown time zone {shown!r}: give an IANA name, e.g. Europe/Berlin or America/New_York."
    near = _by_lower().get(name.strip().lower())
    return f"{message} Did you mean {near!r}?" if near else message


def validate_time_zone(value: str) -> None:
    """A model field's validator: empty (not set) or a known zone."""
    if value and (problem := time_zone_problem(value)):
        raise ValidationError(problem, code="unknown_time_zone")
