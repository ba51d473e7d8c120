"""BG/NBD and Gamma-Gamma: published results, parameter recovery, closed forms vs integration."""

import math
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.optimize import approx_fprime
from scipy.special import gammaln

from customers.metrics import bgnbd, clv, gamma_gamma
from customers.metrics.fitting import FitError, maximise
from customers.metrics.summary import summarise

CDNOW = Path(__file__).resolve().parents[2] / "tests/data/cdnow_sample.txt"
CALIBRATION_END = date(1997, 9, 30)


def cdnow_summary(until: date = CALIBRATION_END):
    """The CDNOW 1/10th sample (2,357 customers), the BG/NBD paper's dataset, summarised by
    this project's conventions over its 39-week calibration period."""
    rows = np.loadtxt(CDNOW, dtype=str)
    customers, days, amounts = rows[:, 1].astype(int), rows[:, 2], rows[:, 4].astype(float)  # sample ids
    iso = np.char.add(
        np.char.add(np.char.add(days.astype("U8").astype("U4"), "-"), np.char.add([d[4:6] for d in days], "-")),
        [d[6:] for d in days],
    )
    day_numbers = (iso.astype("datetime64[D]") - np.datetime64("1970-01-01")).astype(int)
    end = (np.datetime64(until) - np.datetime64("1970-01-01")).astype(int)
    keep = day_numbers <= end
    return summarise(customers[keep], day_numbers[keep], amounts[keep]), int(end)


@pytest.fixture(scope="module")
def cdnow():
    s, end = cdnow_summary()
    return s.frequency, s.recency("weeks"), s.age(end, "weeks"), s.monetary


class TestPublishedResults:
    def test_bgnbd_matches_fader_hardie_lee_2005(self, cdnow):
        x, t_x, T, _ = cdnow
        result = bgnbd.fit(x, t_x, T)

        # Fader, Hardie & Lee (2005), "Counting your customers the easy way", section 5.
        assert result.n_customers == 2357
        p = result.params
        assert (round(p.r, 3), round(p.alpha, 3), round(p.a, 3), round(p.b, 3)) == (0.243, 4.414, 0.793, 2.426)
        assert round(result.log_likelihood, 1) == -9582.4

    def test_gamma_gamma_matches_fader_hardie_2013(self, cdnow):
        x, _, _, m = cdnow
        result = gamma_gamma.fit(x, m)

        # Fader & Hardie (2013), "The Gamma-Gamma model of monetary value": 946 repeat buyers.
        assert result.n_customers == 946
        assert (round(result.params.p, 2), round(result.params.q, 2), round(result.params.v, 2)) == (6.25, 3.74, 15.44)

    def test_predictions_match_the_paper_for_its_example_customer(self, cdnow):
        params = bgnbd.BgNbd(0.242594, 4.413603, 0.792923, 2.425909)
        # The paper's customer: x = 2, t_x = 30.43, T = 38.86 weeks; 39-week forecast 1.226.
        assert round(float(bgnbd.expected_purchases(params, 39, 2, 30.43, 38.86)), 3) == 1.226


def simulate_bgnbd(params: bgnbd.BgNbd, T: np.ndarray, rng: np.random.Generator):
    """Purchase histories drawn from the model itself: (x, t_x) per customer."""
    n = T.size
    rate = rng.gamma(params.r, 1 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    x, t_x, now = np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1 / rate[idx])
        in_window = now[idx] <= T[idx]
        bought = idx[in_window]
        x[bought] += 1
        t_x[bought] = now[bought]
        active[idx[~in_window]] = False
        active[bought[rng.random(bought.size) < dropout[bought]]] = False
    return x, t_x


class TestParameterRecovery:
    def test_bgnbd_recovers_known_parameters_at_large_n(self):
        rng = np.random.default_rng(7)
        truth = bgnbd.BgNbd(r=0.8, alpha=6.0, a=0.7, b=2.5)
        T = rng.uniform(20, 80, 60_000)
        x, t_x = simulate_bgnbd(truth, T, rng)

        fitted = bgnbd.fit(x, t_x, T).params

        for name in ("r", "alpha", "a", "b"):
            assert getattr(fitted, name) == pytest.approx(getattr(truth, name), rel=0.08), name

    def test_gamma_gamma_recovers_known_parameters_at_large_n(self):
        rng = np.random.default_rng(11)
        p, q, v = 4.0, 3.0, 20.0
        n = 60_000
        x = rng.integers(1, 8, n)
        nu = rng.gamma(q, 1 / v, n)
        # The mean of x Gamma(p, ν) amounts is Gamma(p·x, x·ν).
        m = rng.gamma(p * x, 1 / (x * nu))

        fitted = gamma_gamma.fit(x, m).params

        assert (fitted.p, fitted.q, fitted.v) == pytest.approx((p, q, v), rel=0.08)


class TestClosedFormsAgainstIntegration:
    params = bgnbd.BgNbd(r=0.5, alpha=5.0, a=0.8, b=2.5)
    cases = [(0, 0.0, 20.0), (1, 5.0, 30.0), (3, 25.0, 30.0), (4, 8.0, 40.0)]

    def _posterior_integral(self, integrand, x, t_x, T):
        """∫∫ integrand × P(alive, data | λ, p) prior dλ dp / ∫∫ P(data | λ, p) prior dλ dp, by
        adaptive quadrature of the individual-level model (no closed form involved)."""
        r, alpha, a, b = self.params.r, self.params.alpha, self.params.a, self.params.b
        log_norm = r * math.log(alpha) - math.lgamma(r) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))

        def weight(lam, p, alive_only):
            if lam <= 0 or p <= 0 or p >= 1:
                return 0.0
            prior = math.exp(
                log_norm + (r - 1) * math.log(lam) - alpha * lam + (a - 1) * math.log(p) + (b - 1) * math.log1p(-p)
            )
            alive = (1 - p) ** x * lam**x * math.exp(-lam * T)
            dead = p * (1 - p) ** (x - 1) * lam**x * math.exp(-lam * t_x) if x > 0 else 0.0
            return prior * (alive if alive_only else alive + dead)

        # λ = u² takes the prior's λ^(r − 1) singularity at 0 out of the integrand.
        def integrate_over(f):
            return integrate.dblquad(lambda u, p: 2 * u * f(u * u, p), 0, 1, 0, 8, epsabs=1e-12, epsrel=1e-8)[0]

        num = integrate_over(lambda lam, p: weight(lam, p, True) * integrand(lam, p))
        den = integrate_over(lambda lam, p: weight(lam, p, False))
        return num / den

    @pytest.mark.parametrize("x,t_x,T", cases)
    def test_p_alive(self, x, t_x, T):
        expected = self._posterior_integral(lambda lam, p: 1.0, x, t_x, T)
        assert float(bgnbd.p_alive(self.params, x, t_x, T)) == pytest.approx(expected, rel=1e-4)

    @pytest.mark.parametrize("x,t_x,T", cases)
    def test_expected_purchases(self, x, t_x, T):
        t = 26.0
        # Alive at T with (λ, p): purchases in the next t average (1 − e^(−λpt)) / p.
        expected = self._posterior_integral(lambda lam, p: -math.expm1(-lam * p * t) / p, x, t_x, T)
        assert float(bgnbd.expected_purchases(self.params, t, x, t_x, T)) == pytest.approx(expected, rel=1e-4)

    def test_expected_purchases_of_a_new_customer_against_simulation(self):
        rng = np.random.default_rng(3)
        T = np.full(200_000, 30.0)
        x, _ = simulate_bgnbd(self.params, T, rng)
        # A customer who has just made a first purchase: x = t_x = T = 0.
        assert float(bgnbd.expected_purchases(self.params, 30.0, 0, 0.0, 0.0)) == pytest.approx(x.mean(), rel=0.02)

    @pytest.mark.parametrize("x,m", [(1, 10.0), (4, 35.0), (12, 8.0)])
    def test_gamma_gamma_expected_spend(self, x, m):
        p, q, v = 6.0, 3.5, 15.0

        # Posterior of ν given x purchases averaging m: ∝ Gamma(q, v) prior × Gamma(px, xν) likelihood.
        def post(nu):
            return stats.gamma.pdf(nu, q, scale=1 / v) * stats.gamma.pdf(m, p * x, scale=1 / (x * nu))

        num = integrate.quad(lambda nu: p / nu * post(nu), 0, np.inf)[0]
        den = integrate.quad(post, 0, np.inf)[0]
        got = float(gamma_gamma.expected_spend(gamma_gamma.GammaGamma(p, q, v), x, m))
        assert got == pytest.approx(num / den, rel=1e-6)


def test_predicted_clv_discounts_each_month():
    params = bgnbd.BgNbd(r=0.5, alpha=5.0, a=0.8, b=2.5)
    undiscounted = clv.predicted_clv(params, [20.0], 2, 10.0, 20.0, days_per_unit=7, monthly_discount_rate=0.0)
    expected_year = bgnbd.expected_purchases(params, 365.25 / 7, 2, 10.0, 20.0)
    assert undiscounted[0] == pytest.approx(expected_year * 20.0)

    discounted = clv.predicted_clv(params, [20.0], 2, 10.0, 20.0, days_per_unit=7, monthly_discount_rate=0.05)
    with_margin = clv.predicted_clv(params, [20.0], 2, 10.0, 20.0, days_per_unit=7, margin=0.3)
    assert discounted[0] < undiscounted[0]
    assert with_margin[0] == pytest.approx(0.3 * clv.predicted_clv(params, [20.0], 2, 10.0, 20.0, days_per_unit=7)[0])


def test_all_predictions_together_equal_each_one_alone(cdnow):
    x, t_x, T, m = cdnow
    params = bgnbd.BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
    spend = gamma_gamma.expected_spend(gamma_gamma.GammaGamma(6.25, 3.74, 15.44), x, m)
    horizons = np.array([30, 90, 365]) / 7

    together = clv.predict(params, spend, x, t_x, T, horizons=horizons, days_per_unit=7, margin=0.4)

    np.testing.assert_allclose(together.p_alive, bgnbd.p_alive(params, x, t_x, T), rtol=1e-12)
    for row, horizon in zip(together.expected_purchases, horizons, strict=True):
        np.testing.assert_allclose(row, bgnbd.expected_purchases(params, horizon, x, t_x, T), rtol=1e-12)
    alone = clv.predicted_clv(params, spend, x, t_x, T, days_per_unit=7, margin=0.4)
    np.testing.assert_allclose(together.clv, alone, rtol=1e-12)


def test_a_base_without_repeat_purchases_cannot_be_fitted():
    with pytest.raises(FitError, match="no customer has a repeat purchase"):
        bgnbd.fit(np.zeros(500), np.zeros(500), np.full(500, 30.0))


def test_a_likelihood_that_is_not_finite_is_a_fit_error_not_a_nan():
    with pytest.raises(FitError, match="not finite"):
        maximise(lambda params: (float("nan"), np.zeros(2)), np.zeros(2), 1.0)


def test_twelve_month_clv_agrees_with_the_lifetimes_package_on_cdnow(cdnow):
    x, t_x, T, m = cdnow
    purchases, spend = bgnbd.fit(x, t_x, T).params, gamma_gamma.fit(x, m).params

    value = clv.predicted_clv(
        purchases, gamma_gamma.expected_spend(spend, x, m), x, t_x, T, days_per_unit=7, monthly_discount_rate=0.01
    )

    # lifetimes 0.11.3, GammaGammaFitter.customer_lifetime_value(time=12, discount_rate=0.01,
    # freq="W") on the same data, customers 1–3. It counts a month as 4.345 weeks, this project
    # as 365.25 / 12 days, hence the small tolerance.
    assert value[:3] == pytest.approx([36.278496, 4.637466, 8.344093], rel=0.003)


class TestFastObjectivesAgainstTheTextbookFormulas:
    """The fits use compressed, per-distinct-value objectives with analytic gradients; here
    they are checked against the papers' per-customer log-likelihoods, written out plainly,
    and against finite-difference gradients."""

    rng = np.random.default_rng(5)
    x = rng.integers(0, 6, 400).astype(float)
    T = rng.uniform(5, 40, 400)
    t_x = np.where(x > 0, rng.uniform(0, 1, 400) * T, 0.0)
    m = rng.gamma(3.0, 10.0, 400)

    @staticmethod
    def bgnbd_textbook(log_params, x, t_x, T):
        r, alpha, a, b = np.exp(log_params)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(x > 0, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
        return float(np.sum(a1 + a2 + np.logaddexp(a3, a4)))

    @staticmethod
    def gamma_gamma_textbook(log_params, x, m):
        p, q, v = np.exp(log_params)
        return float(
            np.sum(
                gammaln(p * x + q)
                - gammaln(p * x)
                - gammaln(q)
                + q * np.log(v)
                + (p * x - 1) * np.log(m)
                + p * x * np.log(x)
                - (p * x + q) * np.log(x * m + v)
            )
        )

    def test_bgnbd_value_and_gradient(self):
        point = np.log([0.7, 4.0, 0.9, 2.2])
        ll, grad = bgnbd._objective(point, bgnbd._Data(self.x, self.t_x, self.T))

        assert ll == pytest.approx(self.bgnbd_textbook(point, self.x, self.t_x, self.T), rel=1e-10)
        numeric = approx_fprime(point, self.bgnbd_textbook, 1e-6, self.x, self.t_x, self.T)
        assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-4)

    def test_gamma_gamma_value_and_gradient(self):
        repeat = self.x > 0
        x, m = self.x[repeat], self.m[repeat]
        point = np.log([5.0, 3.0, 12.0])
        ll, grad = gamma_gamma._objective(point, gamma_gamma._Data(x, m))

        assert ll == pytest.approx(self.gamma_gamma_textbook(point, x, m), rel=1e-10)
        numeric = approx_fprime(point, self.gamma_gamma_textbook, 1e-6, x, m)
        assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-4)


@pytest.mark.parametrize(
    ("success", "message", "gradient", "accepted"),
    [
        (True, "CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH", 1e-3, True),
        # Stalled at the maximum: the line search can gain nothing more than rounding noise.
        (False, "ABNORMAL: ", 9e-7, True),
        (False, "ABNORMAL_TERMINATION_IN_LNSRCH", 9e-7, True),
        # Stalled far from it, or out of iterations: not a fit to use.
        (False, "ABNORMAL: ", 4e-2, False),
        (False, "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT", 1e-9, False),
    ],
)
def test_a_search_that_stalls_is_accepted_only_at_the_maximum(success, message, gradient, accepted):
    from scipy.optimize import OptimizeResult

    from customers.metrics.fitting import _check_converged

    result = OptimizeResult(success=success, message=message, jac=np.array([gradient, -gradient / 2]))
    if accepted:
        _check_converged(result)
    else:
        with pytest.raises(FitError, match="did not converge"):
            _check_converged(result)
