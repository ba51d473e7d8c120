"""The automatic winner of a campaign's test: which variant goes to the rest.

``pick_winner`` is a plain, deliberately cautious rule until the A/B statistics
(``campaigns/experiments/stats.py``: the chance each variant is best, and a power check)
replace it at the merge: **call sites use only this function and ``Arm``/``Pick``**.

The rule now: every variant needs at least ``MIN_RECIPIENTS`` recipients; the winner is
the variant with the highest click rate (clicks per recipient), if it has any click and
no other variant ties it. Otherwise there is no winner, and the rest get the variants
drawn by weight as usual. Opens are never used: Apple Mail Privacy Protection fakes them.
Conversions are the attribution's, not available here yet: an email whose winner metric
is conversions or revenue is judged on clicks until then, and the note says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Below this many recipients per variant a click-rate difference is mostly noise.
MIN_RECIPIENTS = 100


@dataclass(frozen=True)
class Arm:
    variant_id: int
    label: str
    recipients: int
    clicks: int


@dataclass(frozen=True)
class Pick:
    variant_id: int | None  # None: no winner
    note: str


def pick_winner(arms: Sequence[Arm], *, min_recipients: int = MIN_RECIPIENTS) -> Pick:
    """The variant to send to the rest, or none, with the reason in words (see the module)."""
    if len(arms) < 2:
        return Pick(arms[0].variant_id if arms else None, "Only one variant: nothing to test.")
    short = [a for a in arms if a.recipients < min_recipients]
    if short:
        named = ", ".join(f"{a.label} ({a.recipients:,})" for a in short)
        return Pick(None, f"No winner: each variant needs {min_recipients:,} recipients; {named} had fewer.")
    rates = sorted(((a.clicks / a.recipients, a) for a in arms), key=lambda pair: -pair[0])
    (best_rate, best), (second_rate, _) = rates[0], rates[1]
    if best.clicks == 0:
        return Pick(None, "No winner: no variant was clicked.")
    if best_rate == second_rate:
        return Pick(None, f"No winner: a tie at {best_rate:.1%} clicks per recipient.")
    return Pick(
        best.variant_id,
        f"{best.label}: {best_rate:.1%} clicks per recipient against {second_rate:.1%} for the next best "
        f"(at least {min_recipients:,} recipients each; a simple rule, not a significance test).",
    )
