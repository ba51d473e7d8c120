"""Lifecycle stages, vectorised, each with the rule that chose it.

The journey: prospect → new → active (→ advocate), with at risk and lapsed on the way out
and reactivated on the way back. ``assign`` returns for every customer the stage and the
rule that fired; ``reason`` renders the rule and the customer's numbers as a sentence, e.g.
"last order 142 days ago; usually orders every 35 days; P(alive) 31%" (the stage itself is
shown beside it, so the sentence does not repeat it). Rules are checked in the order of
RULES; the first that matches wins.
"""

from dataclasses import dataclass

import numpy as np

from core.figures import days_text, percent_text

PROSPECT, NEW, ACTIVE, ADVOCATE = "prospect", "new", "active", "advocate"
AT_RISK, LAPSED, REACTIVATED = "at_risk", "lapsed", "reactivated"
STAGE_LABELS = {
    PROSPECT: "Prospect",
    NEW: "New",
    ACTIVE: "Active",
    ADVOCATE: "Advocate",
    AT_RISK: "At risk",
    LAPSED: "Lapsed",
    REACTIVATED: "Reactivated",
}


@dataclass(frozen=True)
class Thresholds:
    new_days: int = 60  # a single purchase this recent is "new"; older, "at risk"
    lapsed_days: int = 365  # no purchase for this long: lapsed
    lapsed_p_alive: float = 0.15
    at_risk_p_alive: float = 0.5
    overdue_factor: float = 2.0  # at risk when the wait exceeds this × the usual gap
    reactivated_days: int = 90  # how long a returning customer stays "reactivated"


@dataclass
class Facts:
    """Per-customer inputs, all arrays of one length. NaN where a figure does not exist."""

    purchase_days: np.ndarray  # 0 for prospects
    days_since_last: np.ndarray  # NaN for prospects
    gap_median: np.ndarray  # NaN below two purchase days
    p_alive: np.ndarray  # NaN without a fitted model
    promoter: np.ndarray  # bool: a recent promoter signal (NPS 9–10, 4–5 star review, referral)
    detractor: np.ndarray  # bool: a recent detractor signal
    previous_stage: np.ndarray  # str, "" when never computed
    days_in_previous_stage: np.ndarray  # NaN when never computed
    previous_purchase_days: np.ndarray  # purchase days when the previous stage was computed


# (rule, stage): rule names are stored with the stage and pick the reason's wording.
RULES = (
    ("no_purchase", PROSPECT),
    ("no_purchase_for_long", LAPSED),
    ("p_alive_very_low", LAPSED),
    ("returned_after_lapse", REACTIVATED),
    ("recently_returned", REACTIVATED),
    ("overdue", AT_RISK),
    ("p_alive_falling", AT_RISK),
    ("no_second_order", AT_RISK),
    ("detractor", AT_RISK),
    ("first_purchase", NEW),
    ("promoter", ADVOCATE),
    ("on_cadence", ACTIVE),
)
RULE_STAGE = dict(RULES)
_RULE_NAMES = np.array([name for name, _ in RULES])
_RULE_STAGES = np.array([stage for _, stage in RULES])


def assign(facts: Facts, t: Thresholds) -> tuple[np.ndarray, np.ndarray]:
    """(stage, rule) per customer."""
    n = facts.purchase_days
    since = facts.days_since_last
    with np.errstate(invalid="ignore"):
        lapsed_before = facts.previous_stage == LAPSED
        conditions = {
            "no_purchase": n == 0,
            "no_purchase_for_long": since > t.lapsed_days,
            "p_alive_very_low": facts.p_alive < t.lapsed_p_alive,
            # Only a new purchase reactivates: a refitted model raising P(alive) does not.
            "returned_after_lapse": lapsed_before & (n > facts.previous_purchase_days),
            "recently_returned": (facts.previous_stage == REACTIVATED)
            & (facts.days_in_previous_stage <= t.reactivated_days)
            & (since <= t.reactivated_days),
            "overdue": (n >= 2) & (since > t.overdue_factor * facts.gap_median),
            "p_alive_falling": facts.p_alive < t.at_risk_p_alive,
            "no_second_order": (n == 1) & (since > t.new_days),
            "detractor": facts.detractor,
            "first_purchase": n == 1,
            "promoter": facts.promoter,
            "on_cadence": np.ones(n.shape, dtype=bool),
        }
    index = np.zeros(n.shape, dtype=np.int64)
    open_ = np.ones(n.shape, dtype=bool)
    for i, (name, _) in enumerate(RULES):
        hit = open_ & conditions[name]
        index[hit] = i
        open_ &= ~hit
    return _RULE_STAGES[index], _RULE_NAMES[index]


def reason(rule: str, *, purchase_days, days_since_last, gap_median, p_alive, t: Thresholds) -> str:
    """Why the customer is at the stage ``rule`` chose, in plain English, from the numbers
    that decided it. The stage is not repeated: it is shown beside the sentence."""
    parts: list[str] = []
    has = _present
    if rule == "no_purchase":
        return "known, no purchase yet"
    parts.append(f"last order {days_text(days_since_last)} ago")
    if rule == "no_purchase_for_long":
        parts.append(f"lapsed after {days_text(t.lapsed_days)} without one")
    if rule in ("returned_after_lapse", "recently_returned"):
        parts.append("bought again after lapsing")
    if rule == "no_second_order":
        parts.append(f"one order and no second within {days_text(t.new_days)}")
    if rule == "first_purchase":
        parts.append("first purchase")
    if rule == "detractor":
        parts.append("recent detractor feedback (low NPS, CSAT or review)")
    if rule == "promoter":
        parts.append("recent promoter signal (high NPS, good review or referral)")
    if has(gap_median) and purchase_days >= 2:
        parts.append(f"usually orders every {days_text(gap_median)}")
    if rule == "on_cadence" or rule == "promoter":
        parts.append(f"{purchase_days:,} purchase days")
    # BG/NBD lets a customer drop out only after a repeat purchase, so for one purchase day
    # P(alive) is 1 by construction: it says nothing, and is left out.
    if has(p_alive) and purchase_days >= 2:
        parts.append(f"P(alive) {percent_text(p_alive)}")
    return "; ".join(parts)


def reason_without_stage(text: str, stage: str) -> str:
    """A reason as stored before it stopped repeating the stage ("at risk: last order …"),
    without that prefix; a reason without it is returned as it is."""
    label = STAGE_LABELS.get(stage, "").lower()
    prefix = f"{label}: "
    return text[len(prefix) :] if label and text.lower().startswith(prefix) else text


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))
