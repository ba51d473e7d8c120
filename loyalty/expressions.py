"""Exact money and points arithmetic in a queryset, on both databases.

The award says its rule once, as a queryset (``loyalty.earning``), which PostgreSQL runs
inside an ``INSERT … SELECT`` and SQLite iterates. PostgreSQL's ``numeric`` is exact; SQLite
has no decimal type and multiplies in binary floating point, where 1.15 × 100 is
114.99999999999999 and floors to 114. So the two steps that must be exact are functions
here: on PostgreSQL plain SQL, on SQLite a call to Python's ``decimal`` (registered on each
connection by ``LoyaltyConfig.ready``). They hold no business rule, only the arithmetic that
SQLite lacks; the rule (which amount, which multiplier, which rounding) is the caller's.
"""

from decimal import Context, Decimal

from django.db.models import BigIntegerField, DecimalField, Func

from loyalty.models import Rounding
from loyalty.programme import points_round

CENT = Decimal("0.01")
# What Django reads a decimal out of SQLite with (its floats carry 15 significant digits).
_FROM_FLOAT = Context(prec=15).create_decimal_from_float
SQL_ROUNDING = {Rounding.DOWN: "FLOOR", Rounding.UP: "CEIL", Rounding.NEAREST: "ROUND"}


def _decimal(value) -> Decimal:
    """A number as SQLite hands it to a function: an int, a float, or (a parameter) text."""
    if isinstance(value, float):
        return _FROM_FLOAT(value)
    return Decimal(value)


class Cents(Func):
    """An amount to the cent, halves up (as PostgreSQL's ``round``), never below zero."""

    function = "loyalty_cents"
    template = "GREATEST(0, ROUND(%(expressions)s, 2))"
    output_field = DecimalField(max_digits=20, decimal_places=2)
    arity = 1

    def as_sqlite(self, compiler, connection, **extra):
        # A float out of the function: cast, so a comparison with a decimal parameter (sent as
        # text) compares numbers, as Django does for its own decimal expressions on SQLite.
        sql, params = super().as_sql(compiler, connection, template="%(function)s(%(expressions)s)", **extra)
        return f"CAST({sql} AS NUMERIC)", params


def sqlite_cents(amount) -> float | None:
    if amount is None:
        return None
    return float(max(Decimal(0), _decimal(amount).quantize(CENT, rounding="ROUND_HALF_UP")))


class Points(Func):
    """The product of ``factors`` in whole points, rounded as ``rounding`` says."""

    function = "loyalty_points"
    arg_joiner = " * "
    output_field = BigIntegerField()

    def __init__(self, *factors, rounding: str):
        self.rounding = rounding
        super().__init__(*factors)

    def as_sql(self, compiler, connection, **extra):
        template = f"CAST({SQL_ROUNDING[self.rounding]}(%(expressions)s) AS bigint)"
        return super().as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # The rounding goes first, as a parameter: the factors follow, however many.
        sql, params = super().as_sql(
            compiler, connection, template="%(function)s(%%s, %(expressions)s)", arg_joiner=", ", **extra
        )
        return sql, (self.rounding, *params)


def sqlite_points(rounding: str, *factors) -> int | None:
    if any(f is None for f in factors):
        return None
    product = Decimal(1)
    for factor in factors:
        product *= _decimal(factor)
    return points_round(product, rounding)


def sqlite_functions_register(sender, connection, **kwargs) -> None:
    """``connection_created``: give a SQLite connection the functions above."""
    if connection.vendor != "sqlite":
        return
    connection.connection.create_function("loyalty_cents", 1, sqlite_cents, deterministic=True)
    connection.connection.create_function("loyalty_points", -1, sqlite_points, deterministic=True)
