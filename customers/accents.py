"""Names compared without their accents: "Muller" finds "Müller", "Soren" finds "Søren".

The search compares ``crm_unaccent`` of the name with ``crm_unaccent`` of what the agent
typed, both lowered, so both sides are folded by the same function:

- on PostgreSQL, ``crm_unaccent`` is an SQL function over the ``unaccent`` extension,
  created by ``customers/0018``. It is declared IMMUTABLE, which ``unaccent`` is not (its
  dictionary could change), so that an index can hold its result: the trigram index
  ``customer_name_folded_trgm_idx`` on the folded name.
- on SQLite, it is ``fold`` below, which the connection is given as a function: the
  Unicode decomposition without its marks, plus the letters that have none (ø, æ, ł …), as
  PostgreSQL's ``unaccent`` rules map them.

The two can differ on rare letters (each database agrees with itself, which is what a
search needs).
"""

import unicodedata

from django.db.models import CharField, Func

# Letters with no decomposition that unaccent's rules still map to plain letters.
_LETTERS = str.maketrans(
    {"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L"}
    | {"đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ß": "ss", "ı": "i", "ħ": "h", "Ħ": "H"}
)
# The database function both sides of the comparison go through.
SQL_FUNCTION = "crm_unaccent"


def fold(value: str | None) -> str | None:
    """``value`` without accents or other marks, and without the letters in ``_LETTERS``.

    SQLite holds whatever a row was given, whatever the column's type (a number or bytes in
    a name written around the app): those are read as text rather than failing the whole
    statement that folds them (a search, the suggested duplicates' build)."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    decomposed = unicodedata.normalize("NFKD", value.translate(_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class Unaccented(Func):
    """``LOWER(crm_unaccent(expression))``: the accents first, so that LOWER has only
    plain letters to lower whatever the database's locale."""

    template = f"LOWER({SQL_FUNCTION}(%(expressions)s))"
    output_field = CharField()


def sqlite_functions_register(sender, connection, **kwargs) -> None:
    """``connection_created``: give a SQLite connection ``crm_unaccent``."""
    if connection.vendor != "sqlite":
        return
    connection.connection.create_function(SQL_FUNCTION, 1, fold, deterministic=True)
