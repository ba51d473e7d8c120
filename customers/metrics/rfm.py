"""RFM: recency, frequency and monetary scores 1–5 by quintile, and a named segment.

Breakpoints are the 20/40/60/80 % quantiles over every customer with a purchase, computed
when the CLV model is fitted and stored with it, so a chunk of customers is scored against
the whole base. Higher is better on each score: R 5 = bought most recently.

Segment from R and FM = round((F + M) / 2), documented in docs/metrics.md:

    R \\ FM   1               2               3                4             5
    5        new             potential loy.  potential loy.   champions     champions
    4        promising       potential loy.  potential loy.   loyal         loyal
    3        about to sleep  about to sleep  need attention   loyal         loyal
    2        hibernating     hibernating     at risk          at risk       can't lose
    1        lost            lost            at risk          at risk       can't lose
"""

import numpy as np

QUANTILES = (0.2, 0.4, 0.6, 0.8)

CHAMPIONS, LOYAL, POTENTIAL = "champions", "loyal", "potential_loyalist"
NEW, PROMISING, NEED_ATTENTION = "new", "promising", "need_attention"
ABOUT_TO_SLEEP, AT_RISK, CANT_LOSE = "about_to_sleep", "at_risk", "cant_lose"
HIBERNATING, LOST = "hibernating", "lost"

SEGMENT_LABELS = {
    CHAMPIONS: "Champions",
    LOYAL: "Loyal",
    POTENTIAL: "Potential loyalist",
    NEW: "New",
    PROMISING: "Promising",
    NEED_ATTENTION: "Need attention",
    ABOUT_TO_SLEEP: "About to sleep",
    AT_RISK: "At risk",
    CANT_LOSE: "Can't lose",
    HIBERNATING: "Hibernating",
    LOST: "Lost",
}

# SEGMENT_GRID[r - 1][fm - 1]
SEGMENT_GRID = np.array(
    [
        [LOST, LOST, AT_RISK, AT_RISK, CANT_LOSE],
        [HIBERNATING, HIBERNATING, AT_RISK, AT_RISK, CANT_LOSE],
        [ABOUT_TO_SLEEP, ABOUT_TO_SLEEP, NEED_ATTENTION, LOYAL, LOYAL],
        [PROMISING, POTENTIAL, POTENTIAL, LOYAL, LOYAL],
        [NEW, POTENTIAL, POTENTIAL, CHAMPIONS, CHAMPIONS],
    ]
)


def breakpoints(values) -> list[float]:
    """The four quintile boundaries of ``values`` (empty input: no boundaries)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return []
    return [float(q) for q in np.quantile(values, QUANTILES)]


def score(values, bounds) -> np.ndarray:
    """1–5: one plus how many boundaries lie strictly below the value. Ties go down: where
    most customers bought once, a single purchase scores F 1, not 4."""
    if not bounds:
        return np.full(np.shape(values), 3, dtype=np.int64)
    return 1 + np.searchsorted(np.asarray(bounds), np.asarray(values, dtype=np.float64), side="left")


def scores(days_since_last, purchase_days, total, bounds: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R, F and M scores. ``bounds`` holds the breakpoints of −days since last purchase
    ("recency"), purchase days ("frequency") and net spend ("monetary")."""
    r = score(-np.asarray(days_since_last, dtype=np.float64), bounds.get("recency", []))
    f = score(purchase_days, bounds.get("frequency", []))
    m = score(total, bounds.get("monetary", []))
    return r, f, m


def segments(r, f, m) -> np.ndarray:
    fm = np.clip(np.floor((np.asarray(f) + np.asarray(m)) / 2 + 0.5).astype(np.int64), 1, 5)
    return SEGMENT_GRID[np.asarray(r) - 1, fm - 1]
