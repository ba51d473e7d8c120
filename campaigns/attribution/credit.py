"""The attribution models on arrays: which touches an order had in its windows, and each
touch's share of the order's net revenue. No database here (``campaigns.attribution.passes``
loads the arrays and writes the credits).

An order's touches are its customer's touches at or before it was placed, no older than the
window of their kind (a click 5 days, an open 1 day by default). Pairs are found for all
orders at once: the touches are sorted by (customer, time) into one int64 key, and two
``searchsorted`` give each order its slice; grouped sums use ``np.add.reduceat``. No Python
loop runs per order.

The models, on an order's touches in time order (t_1 … t_n):

* last click: the last click-like touch (a click, an order's own UTM, the first-seen
  source); the last open only when there is no click-like touch;
* first click: the first click-like touch, likewise;
* linear: 1/n each;
* time decay: weight 2^(−age/half-life), age = placed_at − touch time;
* position-based (U-shaped): 40 % first, 40 % last, 20 % shared by those between; one touch
  gets all, two get half each.

Money is in integer cents: each credit is the floor of its share, and the cents left over go
one each to the largest fractions (largest remainder), so an order's credits add up to its net revenue after
refunds exactly and never exceed it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LAST_CLICK = "last_click"
FIRST_CLICK = "first_click"
LINEAR = "linear"
TIME_DECAY = "time_decay"
POSITION = "position"
MODELS = (LAST_CLICK, FIRST_CLICK, LINEAR, TIME_DECAY, POSITION)

# Touch kinds as small integers in the arrays.
CLICK, OPEN, UTM, FIRST_SEEN = 0, 1, 2, 3
KIND_CODES = {"click": CLICK, "open": OPEN, "utm": UTM, "first_seen": FIRST_SEEN}
CLICK_LIKE = np.array([True, False, True, True])

_SHIFT = np.int64(1) << np.int64(33)  # seconds since 1970 fit in 33 bits until 2242


@dataclass(frozen=True)
class Pairs:
    """Each (order, touch) pair in a window, sorted by order then touch time: indexes into
    the order and touch arrays, and where each order's group starts."""

    order: np.ndarray
    touch: np.ndarray
    starts: np.ndarray  # index into the pairs where each group begins
    group_order: np.ndarray  # the order index of each group


def pairs(
    order_customer: np.ndarray,
    order_at: np.ndarray,
    touch_customer: np.ndarray,
    touch_at: np.ndarray,
    touch_kind: np.ndarray,
    windows: np.ndarray,
    per_second: int = 1,
) -> tuple[Pairs, np.ndarray]:
    """The pairs, and the touch order used (the touches sorted by customer and time).

    Times are int64 in units of 1/``per_second`` s (1: seconds, 10**6: µs); ``windows[kind]``
    is each kind's window in the same unit. The sort key holds whole seconds, so the slices
    found are a superset, which the exact test on the customer and the age then trims."""
    touch_at = touch_at.astype(np.int64)
    key = touch_customer.astype(np.int64) * _SHIFT + touch_at // per_second
    sort = np.argsort(key, kind="stable")
    skey = key[sort]
    ocust = order_customer.astype(np.int64) * _SHIFT
    oat = order_at.astype(np.int64)
    lo = np.searchsorted(skey, ocust + (oat - int(windows.max())) // per_second, side="left")
    hi = np.searchsorted(skey, ocust + oat // per_second, side="right")
    counts = hi - lo
    total = int(counts.sum())
    oidx = np.repeat(np.arange(len(order_at)), counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    tpos = np.repeat(lo, counts) + offsets
    tidx = sort[tpos]
    age = oat[oidx] - touch_at[tidx]
    keep = (age >= 0) & (age <= windows[touch_kind[tidx]]) & (order_customer[oidx] == touch_customer[tidx])
    oidx, tidx = oidx[keep], tidx[keep]
    if len(oidx):
        first = np.flatnonzero(np.r_[True, oidx[1:] != oidx[:-1]])
    else:
        first = np.empty(0, dtype=np.int64)
    return Pairs(oidx, tidx, first, oidx[first] if len(first) else first), sort


def _group_ids(p: Pairs) -> np.ndarray:
    gid = np.zeros(len(p.order), dtype=np.int64)
    if len(p.starts) > 1:
        gid[p.starts[1:]] = 1
    return np.cumsum(gid)


def shares(p: Pairs, model: str, touch_kind: np.ndarray, age_seconds: np.ndarray, half_life: float) -> np.ndarray:
    """Each pair's share of its order (the shares of an order add up to 1)."""
    n = len(p.order)
    if n == 0:
        return np.empty(0)
    gid = _group_ids(p)
    size = np.diff(np.r_[p.starts, n])
    pos = np.arange(n) - p.starts[gid]  # position within the order's touches
    count = size[gid]
    if model == LINEAR:
        return 1.0 / count
    if model == TIME_DECAY:
        w = np.exp2(-age_seconds / half_life)
        return w / np.add.reduceat(w, p.starts)[gid]
    if model == POSITION:
        out = np.where(count == 1, 1.0, np.where(count == 2, 0.5, 0.0))
        many = count >= 3
        ends = (pos == 0) | (pos == count - 1)
        out = np.where(many & ends, 0.4, out)
        return np.where(many & ~ends, 0.2 / np.maximum(count - 2, 1), out)
    if model in (LAST_CLICK, FIRST_CLICK):
        clicky = CLICK_LIKE[touch_kind[p.touch]].astype(np.int64)
        step = np.int64(n + 1)
        score = clicky * step + (np.arange(n) if model == LAST_CLICK else n - np.arange(n))
        best = np.maximum.reduceat(score, p.starts)[gid]
        return (score == best).astype(np.float64)
    raise ValueError(f"Unknown attribution model {model!r}.")


def cents(p: Pairs, share: np.ndarray, order_net_cents: np.ndarray) -> np.ndarray:
    """Each pair's credit in cents, by largest remainder: the floor of each share, then the
    cents left over one each to the largest fractions (the earlier touch among equals), so an
    order's credits add up to its net exactly."""
    n = len(p.order)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    net = np.maximum(order_net_cents[p.order].astype(np.int64), 0)
    exact = net * share
    out = np.floor(exact + 1e-9).astype(np.int64)
    frac = exact - out
    gid = _group_ids(p)
    left = (net[p.starts] - np.add.reduceat(out, p.starts))[gid]
    order = np.lexsort((np.arange(n), -frac, gid))
    sorted_gid = gid[order]
    rank = np.arange(n) - np.searchsorted(sorted_gid, sorted_gid, side="left")
    out[order[rank < left[order]]] += 1
    return out
