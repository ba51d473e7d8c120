"""The statistics of A/B tests and holdouts, from counts and sums: no database here.

Everything takes per-arm totals (recipients, successes, sums and sums of squares of revenue),
which one aggregate query per email gives, and returns plain numbers. Arm 0 of a comparison
is the baseline: the holdout when there is one, else the control variant.

Choices, and why:

* Rates (click rate, conversion rate) get Newcombe's hybrid score interval for the difference
  (Newcombe 1998, method 10), built from the two Wilson intervals. Small shops have small arms
  and rates of a few per cent; the plain normal (Wald) interval then has coverage well under
  95 % and can cross 0 % or 100 %, while Wilson/Newcombe keeps close to nominal coverage down
  to a handful of successes and needs no continuity fudge.
* Revenue per recipient is very skewed (most recipients spend nothing), so its difference gets
  Welch's interval (unequal variances, Satterthwaite degrees of freedom) from the sums and
  sums of squares; at the sizes where a shop reads it the mean is close enough to normal.
* "Not enough data yet" is a classical power calculation (two-sided alpha 0.05, power 0.8)
  for the minimum relative uplift the marketer wants to detect.
* The chance each variant is best is Bayesian, as GrowthBook does: Beta(1 + successes,
  1 + failures) posteriors for rates, a normal approximation for revenue per recipient, and a
  Monte Carlo draw from a seeded generator so a page shows the same figure on every load.
* Sample-ratio mismatch: a chi-square goodness of fit of arm sizes against the weights,
  flagged at p < 0.001 (the threshold Microsoft's ExP, Optimizely and GrowthBook use).
* A winner is never picked on opens (Apple Mail Privacy Protection opens every message):
  only clicks, conversions or revenue, and only when the chance to be best passes the
  threshold and every arm has the sample the power calculation asks for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

Z95 = float(sps.norm.ppf(0.975))


# --- intervals -------------------------------------------------------------------------------


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for one proportion; (0, 1) when there is no one yet."""
    if n <= 0:
        return 0.0, 1.0
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Difference:
    """An arm against the baseline: the absolute difference with its interval, and the
    relative uplift (None when the baseline is zero)."""

    baseline: float
    value: float
    diff: float
    low: float
    high: float
    uplift: float | None

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


def _uplift(value: float, baseline: float) -> float | None:
    return None if baseline == 0 else value / baseline - 1


def rate_difference(successes: int, n: int, base_successes: int, base_n: int, confidence: float = 0.95) -> Difference:
    """Rate of an arm minus the baseline's, with Newcombe's hybrid score interval."""
    p1 = successes / n if n else 0.0
    p0 = base_successes / base_n if base_n else 0.0
    l1, u1 = wilson_interval(successes, n, confidence)
    l0, u0 = wilson_interval(base_successes, base_n, confidence)
    d = p1 - p0
    low = d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return Difference(p0, p1, d, low, high, _uplift(p1, p0))


def mean_difference(
    n: int,
    total: float,
    total_sq: float,
    base_n: int,
    base_total: float,
    base_total_sq: float,
    confidence: float = 0.95,
) -> Difference:
    """Mean per recipient of an arm minus the baseline's (e.g. revenue per recipient), with
    Welch's interval from the counts, sums and sums of squares."""
    if n < 2 or base_n < 2:
        m1 = total / n if n else 0.0
        m0 = base_total / base_n if base_n else 0.0
        return Difference(m0, m1, m1 - m0, -math.inf, math.inf, _uplift(m1, m0))
    m1, m0 = total / n, base_total / base_n
    v1 = max(0.0, (total_sq - n * m1 * m1) / (n - 1))
    v0 = max(0.0, (base_total_sq - base_n * m0 * m0) / (base_n - 1))
    a, b = v1 / n, v0 / base_n
    se = math.sqrt(a + b)
    d = m1 - m0
    if se == 0:
        return Difference(m0, m1, d, d, d, _uplift(m1, m0))
    df = (a + b) ** 2 / ((a * a / (n - 1) if a else 0.0) + (b * b / (base_n - 1) if b else 0.0))
    t = float(sps.t.ppf(0.5 + confidence / 2, df))
    return Difference(m0, m1, d, d - t * se, d + t * se, _uplift(m1, m0))


# --- power -----------------------------------------------------------------------------------


def sample_size_rate(baseline: float, min_uplift: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Recipients needed per arm to detect a relative uplift ``min_uplift`` of a rate
    ``baseline`` (two-sided test of two proportions, pooled variance under the null; the
    formula of Fleiss, Levin & Paik, without continuity correction)."""
    p0 = baseline
    p1 = baseline * (1 + min_uplift)
    if not 0 < p0 < 1 or not 0 < p1 < 1 or p1 == p0:
        raise ValueError("The baseline and the uplifted rate must be distinct rates between 0 and 1.")
    za = float(sps.norm.ppf(1 - alpha / 2))
    zb = float(sps.norm.ppf(power))
    pbar = (p0 + p1) / 2
    num = za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))
    return math.ceil(num * num / (p1 - p0) ** 2)


def sample_size_mean(
    baseline_mean: float, sd: float, min_uplift: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Recipients needed per arm to detect a relative uplift of a mean (equal variances,
    normal approximation): 2 (z_a + z_b)^2 sd^2 / delta^2."""
    delta = abs(baseline_mean * min_uplift)
    if delta == 0 or sd <= 0:
        raise ValueError("The baseline mean, the uplift and the spread must be positive.")
    za = float(sps.norm.ppf(1 - alpha / 2))
    zb = float(sps.norm.ppf(power))
    return math.ceil(2 * (za + zb) ** 2 * sd * sd / (delta * delta))


@dataclass(frozen=True)
class Power:
    needed_per_arm: int | None  # None: not known yet (no variant has any of the metric)
    smallest_arm: int

    @property
    def known(self) -> bool:
        return self.needed_per_arm is not None

    @property
    def still_needed(self) -> int | None:
        """Recipients the smallest arm still lacks (0 when enough; None when not known)."""
        return None if self.needed_per_arm is None else max(0, self.needed_per_arm - self.smallest_arm)

    @property
    def enough(self) -> bool:
        return self.still_needed == 0


# --- Bayesian chance to be best ---------------------------------------------------------------

DRAWS = 20_000


def chance_best_rates(
    successes: Sequence[int], trials: Sequence[int], *, seed: int = 0, draws: int = DRAWS
) -> np.ndarray:
    """The chance each arm has the highest rate: Beta(1 + s, 1 + n - s) posteriors (uniform
    prior), compared draw by draw. Deterministic given the seed."""
    s = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    if (s < 0).any() or (s > n).any():
        raise ValueError("Successes must be between 0 and the trials.")
    rng = np.random.default_rng(seed)
    samples = rng.beta(1 + s[:, None], 1 + (n - s)[:, None], size=(len(s), draws))
    return np.bincount(samples.argmax(axis=0), minlength=len(s)) / draws


def chance_best_means(
    n: Sequence[int],
    totals: Sequence[float],
    totals_sq: Sequence[float],
    *,
    seed: int = 0,
    draws: int = DRAWS,
) -> np.ndarray:
    """The chance each arm has the highest mean per recipient, each mean approximately
    normal with its sample mean and standard error (as GrowthBook does for revenue)."""
    nn = np.maximum(np.asarray(n, dtype=np.float64), 1)
    t = np.asarray(totals, dtype=np.float64)
    tsq = np.asarray(totals_sq, dtype=np.float64)
    mean = t / nn
    var = np.maximum(0.0, (tsq - nn * mean * mean) / np.maximum(nn - 1, 1))
    se = np.sqrt(var / nn)
    rng = np.random.default_rng(seed)
    samples = mean[:, None] + se[:, None] * rng.standard_normal((len(mean), draws))
    return np.bincount(samples.argmax(axis=0), minlength=len(mean)) / draws


# --- sample-ratio mismatch --------------------------------------------------------------------

SRM_P = 0.001


@dataclass(frozen=True)
class SampleRatio:
    chi2: float
    p_value: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < SRM_P


def sample_ratio(observed: Sequence[int], weights: Sequence[float]) -> SampleRatio:
    """Chi-square goodness of fit of the arm sizes against the shares the weights promise
    (include the holdout as an arm with its share as weight)."""
    obs = np.asarray(observed, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if len(obs) != len(w) or len(obs) < 2:
        raise ValueError("One weight per arm, and at least two arms.")
    total = obs.sum()
    if total == 0:
        return SampleRatio(0.0, 1.0)
    expected = total * w / w.sum()
    chi2, p = sps.chisquare(obs, expected)
    return SampleRatio(float(chi2), float(p))


# --- the winner -------------------------------------------------------------------------------

WINNER_METRICS = ("clicks", "conversions", "revenue")


@dataclass(frozen=True)
class Arm:
    """One variant's totals. ``successes`` counts recipients who clicked (or converted);
    ``revenue`` and ``revenue_sq`` are the sum and sum of squares of revenue per recipient."""

    label: str
    recipients: int
    clicks: int = 0
    conversions: int = 0
    revenue: float = 0.0
    revenue_sq: float = 0.0
    opens: int = 0  # shown, never used to choose


@dataclass(frozen=True)
class Verdict:
    winner: str | None
    chance_best: dict[str, float]
    power: Power
    reason: str


def pick_winner(
    arms: Sequence[Arm],
    metric: str,
    *,
    min_uplift: float = 0.1,
    threshold: float = 0.95,
    alpha: float = 0.05,
    power: float = 0.8,
    seed: int = 0,
) -> Verdict:
    """The best variant on clicks, conversions or revenue per recipient, or no winner with
    the reason: not enough data yet (the power target for ``min_uplift`` against the first
    arm's figure is not reached) or no arm's chance to be best reaches ``threshold``."""
    if metric not in WINNER_METRICS:
        raise ValueError(f"A winner is picked on {', '.join(WINNER_METRICS)}; not on {metric!r}.")
    if len(arms) < 2:
        raise ValueError("A test needs at least two variants.")
    smallest = min(a.recipients for a in arms)
    if metric == "revenue":
        chance = chance_best_means(
            [a.recipients for a in arms], [a.revenue for a in arms], [a.revenue_sq for a in arms], seed=seed
        )
        pooled_n = sum(a.recipients for a in arms)
        pooled_mean = sum(a.revenue for a in arms) / pooled_n if pooled_n else 0.0
        pooled_var = (
            (sum(a.revenue_sq for a in arms) - pooled_n * pooled_mean**2) / (pooled_n - 1) if pooled_n > 1 else 0.0
        )
        try:
            needed = sample_size_mean(pooled_mean, math.sqrt(max(pooled_var, 0.0)), min_uplift, alpha, power)
        except ValueError:
            needed = math.inf  # type: ignore[assignment]
    else:
        hits = [a.clicks if metric == "clicks" else a.conversions for a in arms]
        chance = chance_best_rates(hits, [a.recipients for a in arms], seed=seed)
        pooled_n = sum(a.recipients for a in arms)
        base = sum(hits) / pooled_n if pooled_n else 0.0
        try:
            needed = sample_size_rate(base, min_uplift, alpha, power)
        except ValueError:
            needed = math.inf  # type: ignore[assignment]
    chances = {a.label: float(c) for a, c in zip(arms, chance, strict=True)}
    pw = Power(int(needed) if math.isfinite(needed) else None, smallest)
    if not math.isfinite(needed):
        return Verdict(None, chances, pw, f"Not enough data yet: no variant has any {metric} so far.")
    if not pw.enough:
        return Verdict(None, chances, pw, f"Not enough data yet: {pw.still_needed} more recipients per variant.")
    best = int(np.argmax(chance))
    if chance[best] < threshold:
        return Verdict(None, chances, pw, f"No variant has a {threshold:.0%} chance to be best yet.")
    return Verdict(arms[best].label, chances, pw, f"{arms[best].label} is best with {chance[best]:.1%} chance.")
