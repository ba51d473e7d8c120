"""Sets of customer ids, packed for a rollup row and read back as numpy arrays.

A set is stored sorted, as the gaps between consecutive ids (the first id as its own gap),
32-bit, compressed with zlib: a day's 5,000 buyers of a million customers take about 8 KB,
and a month of them reads back in a few milliseconds. Unions and intersections of many
sets go through a boolean mask over the ids, not through sorting.
"""

import zlib
from collections.abc import Iterable

import numpy as np

EMPTY = zlib.compress(b"")


def pack(ids: np.ndarray) -> bytes:
    """Distinct ``ids`` (any order, repeats allowed) as bytes."""
    ids = np.unique(np.asarray(ids, dtype=np.int64))
    if ids.size == 0:
        return EMPTY
    if ids[0] < 0 or ids[-1] >= 2**32:
        raise ValueError("customer ids must be within 0 … 2**32 - 1")
    gaps = np.diff(ids, prepend=0).astype("<u4")
    return zlib.compress(gaps.tobytes(), 1)


def unpack(data: bytes | memoryview) -> np.ndarray:
    """The sorted ids ``pack`` stored, as int64."""
    raw = zlib.decompress(bytes(data))
    return np.cumsum(np.frombuffer(raw, dtype="<u4"), dtype=np.int64)


def union(sets: Iterable[np.ndarray]) -> np.ndarray:
    """The sorted ids in any of ``sets``."""
    sets = [s for s in sets if s.size]
    if not sets:
        return np.empty(0, dtype=np.int64)
    mask = np.zeros(int(max(s[-1] for s in sets)) + 1, dtype=bool)
    for s in sets:
        mask[s] = True
    return np.flatnonzero(mask)


def days_among(sets: Iterable[np.ndarray], among: np.ndarray) -> np.ndarray:
    """For each id of ``among`` (sorted), in how many of ``sets`` (one per day) it is."""
    counts = np.zeros(among.size, dtype=np.int64)
    if among.size == 0:
        return counts
    top = int(among[-1])
    slot = np.full(top + 1, -1, dtype=np.int64)
    slot[among] = np.arange(among.size)
    for ids in sets:
        found = slot[ids[ids <= top]]
        counts[found[found >= 0]] += 1  # a set holds each id once
    return counts
