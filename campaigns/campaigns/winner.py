"""The automatic winner of a campaign's test: which variant goes to the rest.

The statistics are ``campaigns.experiments.stats.pick_winner``: on the email's winner metric
(clicks, conversions or revenue per customer, never opens: Apple Mail Privacy Protection
opens every message), a variant wins only when every variant has the sample the power
calculation asks for (to detect the email's ``min_uplift_percent``) and its chance to be best reaches 95 %.
Otherwise there is no winner, the note says why, and the rest get the variants by weight.
Conversions and revenue are those of the test's customers within the conversion window
after their draw (``campaigns.experiments.outcomes``), so a campaign judged on them should
wait at least that long before picking.
"""

from __future__ import annotations

from dataclasses import dataclass

from campaigns.experiments.counts import email_results
from campaigns.experiments.outcomes import arm_outcomes
from campaigns.experiments.report import email_verdict
from campaigns.models import Email


@dataclass(frozen=True)
class Pick:
    variant_id: int | None  # None: no winner
    note: str


def pick_winner(email: Email) -> Pick:
    """The variant to send to the rest, or none, with the reason in words."""
    results = email_results(email)
    verdict = email_verdict(email, results, arm_outcomes(email))
    if verdict is None:
        only = [r for r in results if r.variant_id is not None]
        return Pick(only[0].variant_id if len(only) == 1 else None, "Only one variant: nothing to test.")
    if verdict.winner is None:
        return Pick(None, f"No winner: {verdict.reason}")
    winner = next(r for r in results if r.label == verdict.winner and r.variant_id is not None)
    return Pick(winner.variant_id, f"{verdict.reason} (on {email.get_winner_metric_display().lower()})")
