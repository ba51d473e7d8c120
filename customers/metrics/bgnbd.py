"""The BG/NBD model (Fader, Hardie & Lee 2005): how many purchases, and is the customer alive.

While alive, a customer buys at Poisson rate λ ~ Gamma(r, α); after each repeat purchase
they drop out with probability p ~ Beta(a, b). Inputs per customer: x (repeat purchases),
t_x (recency) and T (age), in one time unit. Everything is computed in log space with
``scipy.special`` and vectorised over customers.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, gammaln, hyp2f1, psi

from customers.metrics.fitting import FitError, compress, maximise


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


def _log_terms(r, alpha, a, b, x, t_x, T):
    """The per-customer pieces: the constant part, ln A3 ("still alive at T") and ln A4
    ("dropped out right after the last purchase", only possible when x > 0)."""
    const = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    log_a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_a4 = np.where(
            x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf
        )
    return const, log_a3, log_a4


def log_likelihood(params: BgNbd, x, t_x, T) -> np.ndarray:
    """Each customer's log-likelihood."""
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    const, log_a3, log_a4 = _log_terms(params.r, params.alpha, params.a, params.b, x, t_x, T)
    return const + np.logaddexp(log_a3, log_a4)


def _objective(log_params, x, t_x, T, weights):
    r, alpha, a, b = np.exp(log_params)
    const, log_a3, log_a4 = _log_terms(r, alpha, a, b, x, t_x, T)
    log_sum = np.logaddexp(log_a3, log_a4)
    ll = np.dot(weights, const + log_sum)
    w3 = np.exp(log_a3 - log_sum)  # the share of the likelihood from "alive at T"
    w4 = 1.0 - w3
    log_alpha_t, log_alpha_tx = np.log(alpha + T), np.log(alpha + t_x)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_bx1 = np.where(x > 0, 1.0 / np.maximum(b + x - 1, 1e-300), 0.0)
    d_r = psi(r + x) - psi(r) + np.log(alpha) - w3 * log_alpha_t - w4 * log_alpha_tx
    d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + t_x)
    d_a = psi(a + b) - psi(a + b + x) + w4 / a
    d_b = psi(a + b) + psi(b + x) - psi(b) - psi(a + b + x) - w4 * inv_bx1
    grad = np.array([np.dot(weights, d) for d in (d_r, d_alpha, d_a, d_b)]) * np.array([r, alpha, a, b])
    return ll, grad


def fit(x, t_x, T) -> BgNbdFit:
    """Maximum-likelihood parameters. Customers with identical (x, t_x, T) are weighted, not repeated."""
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    if not (x > 0).any():
        raise FitError("no customer has a repeat purchase, so the dropout process cannot be estimated")
    (ux, utx, uT), weights = compress(x, t_x, T)
    scale = max(float(np.mean(T)), 1e-9)
    start = np.log([1.0, scale, 1.0, 1.0])
    best = maximise(lambda p: _objective(p, ux, utx, uT, weights), start, float(weights.sum()))
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


def expected_purchases(params: BgNbd, t, x, t_x, T) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T]: equation (10) of Fader, Hardie & Lee (2005)."""
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + T + t)
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
    log_ratio = (r + x) * (np.log(alpha + T) - np.log(alpha + T + t))
    numerator = (a + b + x - 1) / (a - 1) * (1.0 - np.exp(log_ratio) * hyp)
    return numerator / (1.0 + np.exp(_log_odds_dead(params, x, t_x, T)))


def expected_purchases_new(params: BgNbd, t) -> np.ndarray:
    """E[repeat purchases in (0, t]] for a customer who just made a first purchase."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t = np.asarray(t, dtype=np.float64)
    hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return (a + b - 1) / (a - 1) * (1.0 - (alpha / (alpha + t)) ** r * hyp)
