"""An email's A/B results as the campaign and flow pages show them.

Per arm (each variant, then the holdout): what its messages did (``counts``: recipients,
delivered, opens, clicks, unsubscribes) and what its customers did (``outcomes``:
conversions and revenue in the window after the draw). Against the baseline (the holdout
when there is one, else the first variant): the difference in conversion rate and in
revenue per customer with 95 % intervals. Between the variants: the chance each is best on
the email's winner metric, whether the sample can yet detect the uplift asked for
(``Email.min_uplift_percent``; and how many more customers it needs), and a sample-ratio
check of the arm sizes against the weights. Beside them, the revenue the attribution
credits to the email's touches under each model.

Opens are shown, never used: Apple Mail Privacy Protection opens every message it gets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from campaigns.attribution.selectors import email_attributed
from campaigns.experiments import stats
from campaigns.experiments.counts import ArmResult, email_results
from campaigns.experiments.outcomes import Outcome, arm_outcomes, window
from campaigns.models import Campaign, Email

NONE = Outcome(customers=0, conversions=0, revenue=0.0, revenue_sq=0.0)


@dataclass(frozen=True)
class ArmReport:
    counts: ArmResult
    outcome: Outcome
    conversion: stats.Difference | None  # against the baseline; None for the baseline itself
    revenue: stats.Difference | None
    chance_best: float | None  # variants only

    @property
    def label(self) -> str:
        return self.counts.label

    @property
    def conversion_rate(self) -> float | None:
        return self.outcome.conversions / self.outcome.customers if self.outcome.customers else None

    @property
    def revenue_per_customer(self) -> float | None:
        return self.outcome.revenue / self.outcome.customers if self.outcome.customers else None

    # As the pages print them: rates in per cent to one decimal, money to the cent, the
    # differences with their 95 % interval.
    @property
    def conversion_text(self) -> str:
        rate = self.conversion_rate
        return "–" if rate is None else f"{self.outcome.conversions:,} ({rate * 100:.1f} %)"

    @property
    def revenue_text(self) -> str:
        value = self.revenue_per_customer
        return "–" if value is None else f"{value:,.2f} {settings.BASE_CURRENCY}"

    @property
    def conversion_diff_text(self) -> str:
        d = self.conversion
        if d is None:
            return "–"
        return f"{d.diff * 100:+.1f} pts [{d.low * 100:+.1f}, {d.high * 100:+.1f}]"

    @property
    def revenue_diff_text(self) -> str:
        d = self.revenue
        if d is None:
            return "–"
        if d.low == -math.inf:
            return f"{d.diff:+,.2f} [too few customers]"
        return f"{d.diff:+,.2f} [{d.low:+,.2f}, {d.high:+,.2f}] {settings.BASE_CURRENCY}"

    @property
    def chance_text(self) -> str:
        return "–" if self.chance_best is None else f"{self.chance_best * 100:.0f} %"


@dataclass(frozen=True)
class EmailReport:
    arms: list[ArmReport]
    baseline: str  # the label of the arm the others are compared with
    verdict: stats.Verdict | None  # None with fewer than two variants
    sample_ratio: stats.SampleRatio | None
    window_hours: int
    # The revenue the attribution credits to the email's touches, per model (label, amount).
    attributed: tuple[tuple[str, Decimal], ...] = ()

    @property
    def currency(self) -> str:
        return settings.BASE_CURRENCY

    @property
    def holdout(self) -> ArmReport | None:
        return next((a for a in self.arms if a.counts.variant_id is None), None)


def _stats_arm(arm: ArmResult, outcome: Outcome) -> stats.Arm:
    return stats.Arm(
        label=arm.label,
        recipients=outcome.customers or arm.customers,
        clicks=arm.clicks,
        conversions=outcome.conversions,
        revenue=outcome.revenue,
        revenue_sq=outcome.revenue_sq,
        opens=arm.opens,
    )


def email_verdict(email: Email, results: list[ArmResult], outcomes: dict[int | None, Outcome]) -> stats.Verdict | None:
    """The winner among the variants on the email's metric, or why there is none yet."""
    variants = [r for r in results if r.variant_id is not None]
    if len(variants) < 2:
        return None
    arms = [_stats_arm(r, outcomes.get(r.variant_id, NONE)) for r in variants]
    return stats.pick_winner(arms, email.winner_metric, min_uplift=email.min_uplift_percent / 100, seed=email.pk)


def email_report(email: Email) -> EmailReport:
    results = email_results(email)
    length = window()
    outcomes = arm_outcomes(email, length)
    baseline = next((r for r in results if r.variant_id is None), results[0] if results else None)
    base = outcomes.get(baseline.variant_id, NONE) if baseline else NONE
    verdict = email_verdict(email, results, outcomes)
    arms = []
    for r in results:
        o = outcomes.get(r.variant_id, NONE)
        compared = baseline is not None and r is not baseline and base.customers and o.customers
        arms.append(
            ArmReport(
                counts=r,
                outcome=o,
                conversion=stats.rate_difference(o.conversions, o.customers, base.conversions, base.customers)
                if compared
                else None,
                revenue=stats.mean_difference(
                    o.customers, o.revenue, o.revenue_sq, base.customers, base.revenue, base.revenue_sq
                )
                if compared
                else None,
                # No chance to be best until every variant has someone: an empty arm's is a prior.
                chance_best=verdict.chance_best.get(r.label)
                if verdict and r.variant_id is not None and verdict.power.smallest_arm
                else None,
            )
        )
    return EmailReport(
        arms=arms,
        baseline=baseline.label if baseline else "",
        verdict=verdict,
        sample_ratio=_sample_ratio(email, results),
        window_hours=int(length.total_seconds() // 3600),
        attributed=email_attributed(email.pk),
    )


def _sample_ratio(email: Email, results: list[ArmResult]) -> stats.SampleRatio | None:
    """Arm sizes against what the weights and the holdout share promise; None after a
    campaign's automatic winner went to the rest, which no longer follows the weights."""
    if Campaign.objects.filter(email=email, winner__isnull=False).exists():
        return None
    weights = {v.pk: v.weight for v in email.variants.all()}
    share = email.holdout_percent / 100
    total_weight = sum(weights.values()) or 1
    observed, expected = [], []
    for r in results:
        if r.variant_id is None:
            if not share:
                continue
            observed.append(r.customers)
            expected.append(share)
        elif r.variant_id in weights:
            observed.append(r.customers)
            expected.append((1 - share) * weights[r.variant_id] / total_weight)
    if len(observed) < 2 or sum(observed) == 0:
        return None
    return stats.sample_ratio(observed, expected)
