"""The BG/NBD model (Fader, Hardie & Lee 2005): how many purchases, and is the customer alive.

While alive, a customer buys at Poisson rate λ ~ Gamma(r, α); after each repeat purchase
they drop out with probability p ~ Beta(a, b). Inputs per customer: x (repeat purchases),
t_x (recency) and T (age), in one time unit. Everything is computed in log space with
``scipy.special`` and vectorised over customers.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, gammaln, hyp2f1, psi

from customers.metrics.fitting import FitError, compress, maximise, unique_rows


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


@dataclass(frozen=True)
class BgNbdFit:
    params: BgNbd
    log_likelihood: float
    n_customers: int
    iterations: int


class _Data:
    """Weighted distinct (x, t_x, T) rows, with each column's distinct values and codes: the
    x-only terms (gammaln, psi) are computed once per distinct x, the logs once per distinct
    t_x and T, then gathered — a fraction of the cost of computing them per row."""

    def __init__(self, x, t_x, T):
        (ux, utx, uT), self.weights = compress(x, t_x, T)
        self.x_values, self.x_code = np.unique(ux, return_inverse=True)
        self.tx_values, self.tx_code = np.unique(utx, return_inverse=True)
        self.T_values, self.T_code = np.unique(uT, return_inverse=True)
        self.x = ux
        self.repeat = ux > 0
        self.total_weight = float(self.weights.sum())


def _objective(log_params, d: _Data):
    r, alpha, a, b = np.exp(log_params)
    xv = d.x_values
    with np.errstate(divide="ignore", invalid="ignore"):
        log_b_x1 = np.where(xv > 0, np.log(np.maximum(b + xv - 1, 1e-300)), 0.0)
    const_x = gammaln(r + xv) - gammaln(r) + r * np.log(alpha) + betaln(a, b + xv) - betaln(a, b)
    log_alpha_t, log_alpha_tx = np.log(alpha + d.T_values)[d.T_code], np.log(alpha + d.tx_values)[d.tx_code]
    r_x = r + d.x
    log_a3 = -r_x * log_alpha_t
    log_a4 = np.where(d.repeat, np.log(a) - log_b_x1[d.x_code] - r_x * log_alpha_tx, -np.inf)
    log_sum = np.logaddexp(log_a3, log_a4)
    ll = np.dot(d.weights, const_x[d.x_code] + log_sum)
    w3 = np.exp(log_a3 - log_sum) * d.weights  # the weighted share of "alive at T"
    w4 = d.weights - w3
    inv_b_x1 = np.where(xv > 0, np.exp(-log_b_x1), 0.0)[d.x_code]
    # Sums over rows of the x-only parts: weight per distinct x, then one dot product.
    wx = np.bincount(d.x_code, weights=d.weights, minlength=xv.size)
    d_r = np.dot(wx, psi(r + xv) - psi(r) + np.log(alpha)) - np.dot(w3, log_alpha_t) - np.dot(w4, log_alpha_tx)
    d_alpha = r / alpha * d.total_weight - np.dot(w3 * r_x, 1 / (alpha + d.T_values)[d.T_code])
    d_alpha -= np.dot(w4 * r_x, 1 / (alpha + d.tx_values)[d.tx_code])
    d_a = np.dot(wx, psi(a + b) - psi(a + b + xv)) + w4.sum() / a
    d_b = np.dot(wx, psi(a + b) + psi(b + xv) - psi(b) - psi(a + b + xv)) - np.dot(w4, inv_b_x1)
    return ll, np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])


def fit(x, t_x, T) -> BgNbdFit:
    """Maximum-likelihood parameters. Customers with identical (x, t_x, T) are weighted, not repeated."""
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    if not (x > 0).any():
        raise FitError("no customer has a repeat purchase, so the dropout process cannot be estimated")
    data = _Data(x, t_x, T)
    scale = max(float(np.mean(T)), 1e-9)
    start = np.log([1.0, scale, 1.0, 1.0])
    best = maximise(lambda p: _objective(p, data), start, data.total_weight)
    r, alpha, a, b = best.params
    return BgNbdFit(BgNbd(r, alpha, a, b), best.log_likelihood, int(x.size), best.iterations)


def _log_odds_dead(params: BgNbd, x, t_x, T):
    """ln of (a / (b + x − 1)) ((α + T) / (α + t_x))^(r + x); −inf when x = 0."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)),
            -np.inf,
        )


def p_alive(params: BgNbd, x, t_x, T) -> np.ndarray:
    """P(the customer is still active at T | x, t_x, T). 1 for customers with no repeat purchase."""
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    return np.exp(-np.logaddexp(0.0, _log_odds_dead(params, x, t_x, T)))


def expected_purchases_if_alive(params: BgNbd, t, x, T) -> np.ndarray:
    """E[purchases in (T, T + t] | alive at T, x, T]. It depends on x and T only, not t_x, so
    it is computed once per distinct (x, T) pair (the hypergeometric function is the costly
    part) and gathered; ``t`` may be a 1-D array of horizons, giving one row per horizon."""
    x, T = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(T, dtype=np.float64))
    shape = x.shape
    (ux, uT), _, inverse = unique_rows(x.ravel(), T.ravel())
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t = np.asarray(t, dtype=np.float64)[..., np.newaxis]
    z = t / (alpha + uT + t)
    log_ratio = (r + ux) * (np.log(alpha + uT) - np.log(alpha + uT + t))
    values = (a + b + ux - 1) / (a - 1) * (1.0 - np.exp(log_ratio) * hyp2f1(r + ux, b + ux, a + b + ux - 1, z))
    return values[..., inverse].reshape(values.shape[:-1] + shape)


def expected_purchases(params: BgNbd, t, x, t_x, T) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T]: equation (10) of Fader, Hardie & Lee (2005),
    the purchases expected if alive times P(alive)."""
    return expected_purchases_if_alive(params, t, x, T) * p_alive(params, x, t_x, T)
