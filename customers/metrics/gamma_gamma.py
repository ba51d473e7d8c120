"""The Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005; Colombo & Jiang 1999).

A customer's purchases are Gamma(p, ν) amounts around their own mean p/ν, with ν ~ Gamma(q, v)
across customers. Fitted on repeat buyers: x repeat purchases with mean value m.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, psi

from customers.metrics.fitting import compress, maximise


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float

    def as_dict(self) -> dict:
        return {"p": self.p, "q": self.q, "v": self.v}


@dataclass(frozen=True)
class GammaGammaFit:
    params: GammaGamma
    log_likelihood: float
    n_customers: int
    iterations: int


def log_likelihood(params: GammaGamma, x, m) -> np.ndarray:
    """Each repeat buyer's log-likelihood of their mean spend ``m`` over ``x`` purchases."""
    p, q, v = params.p, params.q, params.v
    x, m = np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64)
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )


def _objective(log_params, x, m, weights):
    p, q, v = np.exp(log_params)
    ll = np.dot(weights, log_likelihood(GammaGamma(p, q, v), x, m))
    log_xm_v = np.log(x * m + v)
    d_p = x * (psi(p * x + q) - psi(p * x) + np.log(m) + np.log(x) - log_xm_v)
    d_q = psi(p * x + q) - psi(q) + np.log(v) - log_xm_v
    d_v = q / v - (p * x + q) / (x * m + v)
    grad = np.array([np.dot(weights, d) for d in (d_p, d_q, d_v)]) * np.array([p, q, v])
    return ll, grad


def fit(x, m) -> GammaGammaFit:
    """Maximum-likelihood parameters from repeat buyers (x > 0 and m > 0; others are ignored)."""
    x, m = np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64)
    keep = (x > 0) & (m > 0)
    (ux, um), weights = compress(x[keep], m[keep])
    start = np.log([1.0, 1.0, max(float(np.mean(m[keep])) if keep.any() else 1.0, 1e-9)])
    best = maximise(lambda params: _objective(params, ux, um, weights), start, float(weights.sum()))
    p, q, v = best.params
    return GammaGammaFit(GammaGamma(p, q, v), best.log_likelihood, int(keep.sum()), best.iterations)


def expected_spend(params: GammaGamma, x, m) -> np.ndarray:
    """E[spend per purchase | x, m]: the posterior mean, shrunk toward the population mean
    p·v/(q − 1). Customers with no repeat purchase get the population mean."""
    p, q, v = params.p, params.q, params.v
    x, m = np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64)
    m = np.where(x > 0, m, 0.0)
    return p * (v + x * m) / (p * x + q - 1)
