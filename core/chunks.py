"""How set-based passes split customers into chunks (id lists and primary-key ranges), and
run a chunk so that one customer's bad row never stops the pass (``chunk_run_range``)."""

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import DataError, connection
from django.db.models import BooleanField, Max, Min, Model
from django.db.models.expressions import RawSQL

from core.transactions import atomic_retrying

CHUNK_SIZE = 5000
# The nightly pass reads one narrow row per customer, so it takes bigger ranges: the models'
# per-distinct-value work is shared by more customers and fixed costs by more rows
# (14.5 µs a customer at 25,000, 21 µs at 5,000, 18 µs at 50,000).
NIGHTLY_CHUNK_SIZE = 25_000


def chunked[T](items: Iterable[T], size: int = CHUNK_SIZE) -> Iterator[list[T]]:
    """Lists of up to ``size`` items, in order."""
    chunk: list[T] = []
    for i in items:
        chunk.append(i)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def id_list_condition(ids: list[int]) -> tuple[str, list]:
    """A condition "column ``{col}`` among ``ids``" and its params: one array parameter on
    PostgreSQL (an IN list of 5,000 placeholders, repeated in each query, doubled a chunk's
    time), an IN list elsewhere. The array is cast: a Python int list may be sent as
    numeric[], and a bigint column compared with numeric misses its index."""
    if connection.vendor == "postgresql":
        return "{col} = ANY(%s::bigint[])", [list(ids)]
    return f"{{col}} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def among(customer_ids: list[int], column: str = "customer_id") -> RawSQL:
    """``column`` among these: one array parameter on PostgreSQL, where an IN list of
    thousands of placeholders costs more to send than the query takes to run. Qualify the
    column (``'"table"."customer_id"'``) in a query that joins another table having one.

    The ids' bounds go along: with the array alone the planner may scan the whole table
    rather than look up thousands of ids, where a range lets it read that range's rows."""
    condition, params = id_list_condition(customer_ids)
    if customer_ids:
        condition = f"{{col}} BETWEEN %s AND %s AND {condition}"
        params = [min(customer_ids), max(customer_ids), *params]
    return RawSQL(condition.format(col=column), params, output_field=BooleanField())


def id_ranges(model: type[Model], size: int = CHUNK_SIZE) -> list[tuple[int, int]]:
    """Primary-key ranges of at most ``size`` ids each, together covering every row of ``model``."""
    bounds = model._default_manager.aggregate(lo=Min("pk"), hi=Max("pk"))
    if bounds["lo"] is None:
        return []
    return [(lo, min(lo + size - 1, bounds["hi"])) for lo in range(bounds["lo"], bounds["hi"] + 1, size)]


# ------------------------------------------------------------------ one bad row, one customer

logger = logging.getLogger(__name__)

# What a row that a column or a computation cannot hold raises: PostgreSQL's data exceptions
# (numeric field overflow, timestamp out of range, division by zero), and Python's when a
# value is converted (a date before year 1, ``Decimal`` beyond its precision, a NaN cast;
# SQLite reads a stored time it cannot parse as None, which fails as a TypeError where it is
# compared). Operational errors (a deadlock, a lost connection) are not among them: they
# keep their retry.
DATA_ERRORS: tuple[type[Exception], ...] = (DataError, ArithmeticError, ValueError, TypeError)
# A chunk in which more customers than this fail one by one is not meeting bad rows but a
# bug: the pass stops with that error instead of bisecting the whole chunk.
MAX_SKIPPED_PER_CHUNK = 32


class BadCustomers(Exception):  # noqa: N818 (names what it carries, as Django's ValidationError)
    """Raised by a chunk's computation that can tell, before writing anything, which customers'
    rows it cannot hold (a sum beyond its column, a date beyond Python's); the chunk runner
    skips them and runs the rest again, without bisecting."""

    def __init__(self, customer_ids: Iterable[int], reason: str):
        self.customer_ids = sorted({int(i) for i in customer_ids})
        self.reason = reason
        super().__init__(f"{reason}: customers {self.customer_ids}")


@dataclass(frozen=True)
class _Parts[P]:
    """How to split a chunk of one shape (an id list, an id range) and name its customers."""

    ids_in: Callable[[P, list[int]], list[int]]  # those of these ids in the part
    without: Callable[[P, list[int]], list[P]]  # the part minus these ids, in id order
    halves: Callable[[P], list[P]]  # two halves in id order, or [] for a single customer
    single: Callable[[P], int]  # the one customer of a part that has no halves
    empty: Callable[[P], bool]


def _list_without(ids: list[int], bad: list[int]) -> list[list[int]]:
    skip = set(bad)
    rest = [i for i in ids if i not in skip]
    return [rest] if rest else []


def _range_without(bounds: tuple[int, int], bad: list[int]) -> list[tuple[int, int]]:
    parts, lo = [], bounds[0]
    for cid in sorted(set(bad)):
        if lo <= cid - 1:
            parts.append((lo, cid - 1))
        lo = cid + 1
    if lo <= bounds[1]:
        parts.append((lo, bounds[1]))
    return parts


def _range_halves(bounds: tuple[int, int]) -> list[tuple[int, int]]:
    lo, hi = bounds
    if lo >= hi:
        return []
    mid = (lo + hi) // 2
    return [(lo, mid), (mid + 1, hi)]


_ID_LISTS = _Parts[list[int]](
    ids_in=lambda ids, bad: sorted(set(ids) & set(bad)),
    without=_list_without,
    halves=lambda ids: [ids[: len(ids) // 2], ids[len(ids) // 2 :]] if len(ids) > 1 else [],
    single=lambda ids: ids[0],
    empty=lambda ids: not ids,
)
_ID_RANGES = _Parts[tuple[int, int]](
    ids_in=lambda b, bad: sorted(i for i in set(bad) if b[0] <= i <= b[1]),
    without=_range_without,
    halves=_range_halves,
    single=lambda b: b[0],
    empty=lambda b: b[0] > b[1],
)


def chunk_run_ids[R](pass_name: str, ids: Iterable[int], run: Callable[[list[int]], R], *, empty: Any = 0) -> R:
    """``run(ids)`` in one transaction; a customer whose rows make it fail with a data error
    is logged, named, and left out, and every other customer of the chunk is still run.
    See ``chunk_run_range``."""
    return _run_isolating(pass_name, sorted(set(ids)), run, _ID_LISTS, empty)


def chunk_run_range[R](
    pass_name: str, first_id: int, last_id: int, run: Callable[[int, int], R], *, empty: Any = 0
) -> R:
    """``run(first_id, last_id)`` in one transaction, as every set-based pass runs a chunk.

    When it fails on a data error (``DATA_ERRORS``) it does not stop the pass: the chunk is
    split in halves, each run in a transaction (or savepoint) of its own, down to the single
    customers that fail, which are logged by id and the pass's name and left out; everyone
    else in the chunk is processed. A ``BadCustomers`` error names its customers at once, so
    the rest runs again without them. Results of the parts are added up (numbers, tuples of
    numbers, dicts of numbers); ``empty`` when nothing ran. The normal case costs nothing:
    one transaction, as before. Deadlocks are retried as ``atomic_retrying`` does; any other
    error stops the pass as it always did.
    """
    return _run_isolating(pass_name, (first_id, last_id), lambda b: run(*b), _ID_RANGES, empty)


def _run_isolating[P, R](pass_name: str, chunk: P, run: Callable[[P], R], parts: _Parts[P], empty: R) -> R:
    results: list[R] = []
    skipped: list[int] = []
    todo = [chunk]
    while todo:
        part = todo.pop(0)
        if parts.empty(part):
            continue
        try:
            results.append(atomic_retrying(lambda: run(part)))  # noqa: B023
        except BadCustomers as exc:
            bad = parts.ids_in(part, exc.customer_ids)
            if not bad:
                raise
            for cid in bad:
                _skip(pass_name, cid, exc.reason, skipped)
            todo[:0] = parts.without(part, bad)
        except DATA_ERRORS as exc:
            halves = parts.halves(part)
            if halves:
                todo[:0] = halves
                continue
            _skip(pass_name, parts.single(part), f"{type(exc).__name__}: {exc}".strip(), skipped)
            if len(skipped) > MAX_SKIPPED_PER_CHUNK:
                raise
    return _added(results, empty)


def _skip(pass_name: str, customer_id: int, reason: str, skipped: list[int]) -> None:
    skipped.append(customer_id)
    logger.error(
        "%s: customer %s skipped, their data cannot be processed (%s); the rest of the chunk carries on",
        pass_name,
        customer_id,
        reason,
        extra={"pass_name": pass_name, "customer_id": customer_id},
    )


def _added(results: list, empty):
    if not results:
        return empty
    first = results[0]
    if isinstance(first, dict):
        out: dict = {}
        for r in results:
            for key, value in r.items():
                out[key] = out.get(key, 0) + value
        return out
    if isinstance(first, tuple):
        return tuple(sum(values) for values in zip(*results, strict=True))
    if first is None:
        return None
    return sum(results[1:], first)
