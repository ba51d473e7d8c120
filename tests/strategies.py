"""Hypothesis strategies for hostile input: the extremes that once got past the API (issue 16).

Each reaches an edge that a column, a later sum or the decoder cannot hold: offsets to
±23:59 (PostgreSQL takes ±15:59), years 1 and 9999 (no UTC equivalent at some offsets),
money at and over the per-order cap and numeric(14,2), NUL and lone surrogates in text,
nesting far deeper than a recursive reader follows, and bytes that are not UTF-8.
``hostile_bodies(valid)`` puts one of them into an otherwise valid body, so a test that
posts it reaches the check for that value rather than failing on the first missing field.
"""

import json
from decimal import Decimal

from hypothesis import strategies as st

MAX_OFFSET_MINUTES = 23 * 60 + 59  # what RFC 3339 (and msgspec) read
EDGE_OFFSETS = [0, 15 * 60 + 59, 16 * 60, 14 * 60, MAX_OFFSET_MINUTES]
EDGE_YEARS = [1, 2, 1969, 1970, 2026, 2027, 9998, 9999]


def offset_text(minutes: int) -> str:
    hours, rest = divmod(abs(minutes), 60)
    return f"{'-' if minutes < 0 else '+'}{hours:02d}:{rest:02d}"


def offsets() -> st.SearchStrategy[str]:
    """ "+HH:MM" / "-HH:MM" up to ±23:59, the edges most often, and "Z"."""
    edge = st.sampled_from(EDGE_OFFSETS).flatmap(lambda m: st.sampled_from([m, -m]))
    return st.one_of(edge.map(offset_text), st.integers(-MAX_OFFSET_MINUTES, MAX_OFFSET_MINUTES).map(offset_text))


def years() -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(EDGE_YEARS), st.integers(1, 9999))


def datetimes_text() -> st.SearchStrategy[str]:
    """RFC 3339 times from year 1 to 9999 at any offset, e.g. ``0001-01-01T00:00:00+14:00``."""
    edges = st.sampled_from(["0001-01-01T00:00:00", "9999-12-31T23:59:59", "1970-01-01T00:00:00"])
    built = st.builds(
        lambda y, mo, d, h, mi, s: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}",
        years(),
        st.integers(1, 12),
        st.integers(1, 28),
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 59),
    )
    zones = st.one_of(offsets(), st.just("Z"))
    return st.builds(lambda moment, zone: moment + zone, st.one_of(edges, built), zones)


def dates_text() -> st.SearchStrategy[str]:
    return st.builds(lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}", years(), st.integers(1, 12), st.integers(1, 28))


MONEY_EDGES = [
    "0.00",
    "0.01",
    "999999999.99",
    "1000000000.00",  # the cap
    "1000000000.01",
    "999999999999.99",  # numeric(14,2)'s maximum
    "1000000000000.00",
    "-0.01",
    "0.001",
    "1E+3",
    "NaN",
    "Infinity",
    "1e999999",
]


def money_text() -> st.SearchStrategy[str]:
    """Decimal strings at and around the cap and numeric(14,2), and ones that are not money."""
    return st.one_of(
        st.sampled_from(MONEY_EDGES), st.decimals(min_value=0, max_value=Decimal("1e13"), places=2).map(str)
    )


def hostile_text() -> st.SearchStrategy[str]:
    """Text with NUL or a lone surrogate somewhere in it, or long text."""
    return st.one_of(
        st.builds(lambda a, b: f"{a}\x00{b}", st.text(max_size=5), st.text(max_size=5)),
        st.sampled_from(["\ud800", "a\udfffb", "\x00", "x" * 300]),
        st.text(max_size=20),
    )


def deep_json(max_depth: int = 200_000) -> st.SearchStrategy[bytes]:
    """Arrays or objects nested from a few levels to far beyond any recursion limit."""
    depth = st.one_of(st.sampled_from([31, 32, 33, 1_000, 100_000]), st.integers(1, max_depth))
    arrays = depth.map(lambda n: b"[" * n + b"]" * n)
    objects = depth.map(lambda n: b'{"a": ' * n + b"1" + b"}" * n)
    return st.one_of(arrays, objects)


INVALID_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80"]


def invalid_utf8() -> st.SearchStrategy[bytes]:
    return st.sampled_from(INVALID_UTF8)


def _dump(body: dict) -> bytes:
    return json.dumps(body).encode()


def _with_raw(body: dict, key: str, raw: bytes) -> bytes:
    """``body`` as JSON with ``key`` holding the raw bytes (which need not be JSON-encodable)."""
    return _dump(body)[:-1] + b', "' + key.encode() + b'": ' + raw + b"}"


def _set(body: dict, path: tuple[str, ...], value) -> dict:
    if len(path) == 1:
        return {**body, path[0]: value}
    return {**body, path[0]: _set(body.get(path[0], {}), path[1:], value)}


def hostile_bodies(
    valid: dict,
    *,
    datetimes: tuple[tuple[str, ...], ...] = (),
    dates: tuple[tuple[str, ...], ...] = (("customer", "birthday"),),
    money: tuple[tuple[str, ...], ...] = (),
    texts: tuple[tuple[str, ...], ...] = (("customer", "first_name"),),
    tags: tuple[str, ...] = ("customer", "tags"),
    free_form: tuple[str, ...] = (),
) -> st.SearchStrategy[bytes]:
    """``valid`` with one hostile value: in a datetime, date, money or text field (given by
    path), a tag, a free-form field (deep JSON), an unknown field (deep JSON, which decoders
    skip by recursion), or invalid UTF-8 in a string."""

    def without(key: str) -> dict:
        return {k: v for k, v in valid.items() if k != key}

    return st.one_of(
        *(datetimes_text().map(lambda v, p=p: _dump(_set(valid, p, v))) for p in datetimes),
        *(dates_text().map(lambda v, p=p: _dump(_set(valid, p, v))) for p in dates),
        *(money_text().map(lambda v, p=p: _dump(_set(valid, p, v))) for p in money),
        *(hostile_text().map(lambda v, p=p: _dump(_set(valid, p, v))) for p in texts),
        hostile_text().map(lambda v: _dump(_set(valid, tags, ["ok", v]))),
        *(deep_json().map(lambda raw, k=k: _with_raw(without(k), k, raw)) for k in free_form),
        deep_json().map(lambda raw: _with_raw(valid, "unknown", raw)),
        invalid_utf8().map(lambda raw: _with_raw(valid, "note", b'"a' + raw + b'b"')),
    )
