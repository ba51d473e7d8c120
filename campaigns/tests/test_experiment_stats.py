"""A/B statistics against textbook values and simulation; the draw's stability and shares."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special
from scipy import stats as sps

from campaigns.experiments import stats
from campaigns.experiments.assignment import HOLDOUT, assign

# --- the draw -----------------------------------------------------------------------------


def test_draw_is_pinned_to_values_any_machine_gives():
    # BLAKE2b of "salt:id": the same bytes on every platform and Python version.
    arms = assign(np.array([1, 2, 3, 4, 5, 6, 7, 8]), "email:7", [1, 1], 0.25)
    assert arms.tolist() == assign(np.array([1, 2, 3, 4, 5, 6, 7, 8]), "email:7", [1, 1], 0.25).tolist()
    assert set(arms.tolist()) <= {HOLDOUT, 0, 1}


def test_draw_shares_follow_weights_and_holdout():
    ids = np.arange(1, 60_001)
    arms = assign(ids, "campaign:3", [1, 2, 1], 0.1)
    observed = [int((arms == a).sum()) for a in (HOLDOUT, 0, 1, 2)]
    expected = np.array([0.1, 0.9 * 0.25, 0.9 * 0.5, 0.9 * 0.25]) * len(ids)
    assert sps.chisquare(observed, expected).pvalue > 0.001


def test_draws_under_two_salts_are_independent():
    ids = np.arange(1, 40_001)
    a = assign(ids, "email:1", [1, 1], 0.2)
    b = assign(ids, "email:2", [1, 1], 0.2)
    table = np.array([[((a == i) & (b == j)).sum() for j in (HOLDOUT, 0, 1)] for i in (HOLDOUT, 0, 1)])
    assert sps.chi2_contingency(table).pvalue > 0.001


@settings(max_examples=30, deadline=None)
@given(
    ids=st.lists(st.integers(min_value=1, max_value=2**62), min_size=1, max_size=50, unique=True),
    salt=st.text(min_size=1, max_size=20),
    weights=st.lists(st.integers(min_value=1, max_value=10), min_size=1, max_size=5),
    holdout=st.floats(min_value=0, max_value=0.5),
)
def test_a_customer_draws_the_same_whoever_is_drawn_with_them(ids, salt, weights, holdout):
    whole = assign(np.array(ids), salt, weights, holdout)
    alone = np.array([assign(np.array([i]), salt, weights, holdout)[0] for i in ids])
    assert (whole == alone).all()
    assert ((whole >= HOLDOUT) & (whole < len(weights))).all()


# --- intervals ------------------------------------------------------------------------------


def test_wilson_textbook_values():
    # Newcombe (1998a) table: 0/10 -> 0 to 0.2775; 81/263 -> 0.2553 to 0.3662.
    lo, hi = stats.wilson_interval(0, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.0, 0.2775)
    lo, hi = stats.wilson_interval(81, 263)
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)


def test_newcombe_difference_textbook_value():
    # Newcombe (1998b), example (a): 56/70 against 48/80, method 10: 0.0524 to 0.3339.
    d = stats.rate_difference(56, 70, 48, 80)
    assert round(d.diff, 4) == 0.2
    assert (round(d.low, 4), round(d.high, 4)) == (0.0524, 0.3339)
    assert d.significant
    assert d.uplift == pytest.approx(0.8 / 0.6 - 1)


def test_newcombe_coverage_by_simulation_for_a_small_shop():
    rng = np.random.default_rng(5)
    p1, p0, n1, n0 = 0.04, 0.03, 300, 300
    x1 = rng.binomial(n1, p1, 2000)
    x0 = rng.binomial(n0, p0, 2000)
    covered = 0
    for a, b in zip(x1, x0, strict=True):
        d = stats.rate_difference(int(a), n1, int(b), n0)
        covered += d.low <= p1 - p0 <= d.high
    assert 0.93 <= covered / 2000 <= 0.975


def test_welch_interval_from_sums_equals_scipy_on_the_raw_data():
    rng = np.random.default_rng(1)
    a = np.where(rng.random(400) < 0.05, rng.gamma(2, 40, 400), 0.0)
    b = np.where(rng.random(350) < 0.03, rng.gamma(2, 40, 350), 0.0)
    d = stats.mean_difference(len(a), a.sum(), (a * a).sum(), len(b), b.sum(), (b * b).sum())
    ci = sps.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert d.diff == pytest.approx(a.mean() - b.mean())
    assert (d.low, d.high) == (pytest.approx(ci.low), pytest.approx(ci.high))


def test_welch_with_too_few_recipients_says_it_knows_nothing():
    d = stats.mean_difference(1, 10.0, 100.0, 5, 0.0, 0.0)
    assert d.low == -math.inf and d.high == math.inf and not d.significant


# --- power ----------------------------------------------------------------------------------


def test_sample_size_rate_textbook_value():
    # Fleiss, Levin & Paik without continuity correction: 5 % against 10 % needs 435 per arm.
    assert stats.sample_size_rate(0.05, 1.0) == 435
    # A 2 % click rate and a 10 % relative uplift need far more than a small shop has.
    assert 80_000 < stats.sample_size_rate(0.02, 0.1) < 81_000


def test_sample_size_rate_gives_80_percent_power_by_simulation():
    n = stats.sample_size_rate(0.1, 0.3)
    rng = np.random.default_rng(2)
    x1 = rng.binomial(n, 0.13, 4000)
    x0 = rng.binomial(n, 0.10, 4000)
    pooled = (x1 + x0) / (2 * n)
    z = (x1 - x0) / n / np.sqrt(pooled * (1 - pooled) * 2 / n)
    assert 0.78 <= (np.abs(z) > stats.Z95).mean() <= 0.82


def test_sample_size_mean_and_what_is_still_needed():
    assert stats.sample_size_mean(10.0, 20.0, 0.2) == math.ceil(2 * (1.959964 + 0.841621) ** 2 * 400 / 4)
    p = stats.Power(needed_per_arm=1000, smallest_arm=640)
    assert p.still_needed == 360 and not p.enough
    assert stats.Power(1000, 1200).still_needed == 0


# --- chance to be best ------------------------------------------------------------------------


def _exact_b_beats_a(sa, na, sb, nb):
    """Evan Miller's closed form of P(rate B > rate A) for Beta(1 + s, 1 + n - s) posteriors."""
    aa, ba, ab, bb = 1 + sa, 1 + na - sa, 1 + sb, 1 + nb - sb
    i = np.arange(ab)
    terms = special.betaln(aa + i, ba + bb) - np.log(bb + i) - special.betaln(1 + i, bb) - special.betaln(aa, ba)
    return float(np.exp(terms).sum())


def test_chance_best_matches_the_closed_form_for_two_arms():
    chance = stats.chance_best_rates([30, 45], [1000, 1000], seed=3, draws=200_000)
    assert chance[1] == pytest.approx(_exact_b_beats_a(30, 1000, 45, 1000), abs=0.005)
    assert chance.sum() == pytest.approx(1.0)


def test_chance_best_is_deterministic_given_the_seed_and_even_for_equal_arms():
    a = stats.chance_best_rates([10, 10, 10], [500, 500, 500], seed=9)
    assert (a == stats.chance_best_rates([10, 10, 10], [500, 500, 500], seed=9)).all()
    assert a == pytest.approx([1 / 3] * 3, abs=0.02)


def test_chance_best_for_revenue_matches_the_normal_closed_form():
    # Two normals: P(B > A) = Phi((mB - mA) / sqrt(seA^2 + seB^2)).
    n, tot, tsq = [400, 400], [800.0, 1000.0], [40_000.0, 52_000.0]
    chance = stats.chance_best_means(n, tot, tsq, seed=1, draws=200_000)
    m = np.array(tot) / 400
    var = (np.array(tsq) - 400 * m * m) / 399
    expected = sps.norm.cdf((m[1] - m[0]) / math.sqrt(var.sum() / 400))
    assert chance[1] == pytest.approx(expected, abs=0.005)


# --- sample-ratio mismatch ----------------------------------------------------------------------


def test_sample_ratio_mismatch_flags_below_one_in_a_thousand():
    assert not stats.sample_ratio([5000, 5000], [1, 1]).mismatch
    near = stats.sample_ratio([5000, 5300], [1, 1])  # chi2 8.74, p 0.0031
    assert round(near.chi2, 2) == 8.74 and not near.mismatch
    assert stats.sample_ratio([5000, 5400], [1, 1]).mismatch  # chi2 15.38, p 0.00009
    # The holdout is an arm with its share as weight: 10 % holdout, two equal variants.
    assert not stats.sample_ratio([1010, 4480, 4510], [0.1, 0.45, 0.45]).mismatch


# --- the winner --------------------------------------------------------------------------------


def test_no_winner_on_opens():
    arms = [stats.Arm("A", 1000, opens=900), stats.Arm("B", 1000, opens=100)]
    with pytest.raises(ValueError, match="not on 'opens'"):
        stats.pick_winner(arms, "opens")


def test_no_winner_before_the_sample_reaches_the_power_target_even_when_clearly_ahead():
    arms = [stats.Arm("A", 200, conversions=2), stats.Arm("B", 200, conversions=12)]
    v = stats.pick_winner(arms, "conversions", min_uplift=0.2)
    assert v.chance_best["B"] > 0.99
    assert v.winner is None and v.reason.startswith("Not enough data yet")
    assert v.power.still_needed == v.power.needed_per_arm - 200 > 0


def test_winner_when_powered_and_confident_and_none_when_close():
    arms = [stats.Arm("A", 20_000, clicks=400), stats.Arm("B", 20_000, clicks=520)]
    v = stats.pick_winner(arms, "clicks", min_uplift=0.3)
    assert v.power.enough and v.winner == "B"
    close = [stats.Arm("A", 20_000, clicks=400), stats.Arm("B", 20_000, clicks=410)]
    v = stats.pick_winner(close, "clicks", min_uplift=0.3)
    assert v.winner is None and "chance to be best" in v.reason


def test_winner_on_revenue():
    rng = np.random.default_rng(4)
    a = np.where(rng.random(5000) < 0.05, rng.gamma(2, 30, 5000), 0.0)
    b = np.where(rng.random(5000) < 0.08, rng.gamma(2, 30, 5000), 0.0)
    arms = [stats.Arm(label, len(x), revenue=x.sum(), revenue_sq=(x * x).sum()) for label, x in (("A", a), ("B", b))]
    v = stats.pick_winner(arms, "revenue", min_uplift=0.5)
    assert v.winner == "B"


def test_no_winner_when_nobody_converted():
    arms = [stats.Arm("A", 5000), stats.Arm("B", 5000)]
    assert stats.pick_winner(arms, "conversions").winner is None


def test_with_no_data_the_sample_needed_is_not_known_and_nothing_is_made_up():
    arms = [stats.Arm(label=x, recipients=0, clicks=0, conversions=0, revenue=0.0, revenue_sq=0.0) for x in "AB"]
    v = stats.pick_winner(arms, "conversions", min_uplift=0.2, seed=1)
    assert v.winner is None and not v.power.known and v.power.still_needed is None and not v.power.enough
    assert v.reason == "Not enough data yet: no variant has any conversions so far."
