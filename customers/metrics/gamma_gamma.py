"""The Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005; Colombo & Jiang 1999).

A customer's purchases are Gamma(p, ν) amounts around their own mean p/ν, with ν ~ Gamma(q, v)
across customers. Fitted on repeat buyers: x repeat purchases with mean value m.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, psi

from customers.metrics.fitting import FitError, maximise


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


class _Data:
    """Repeat buyers' (x, m) with the sums the likelihood needs precomputed: only
    ln(x·m + v) has to be evaluated per customer at each step; the x-only terms are
    computed once per distinct x."""

    def __init__(self, x, m):
        self.x_values, self.x_code, counts = np.unique(x, return_inverse=True, return_counts=True)
        self.count_x = counts.astype(np.float64)
        self.x, self.xm = x, x * m
        self.n = float(x.size)
        self.sum_log_m = float(np.log(m).sum())
        self.sum_x_log_m = float(np.dot(x, np.log(m)))
        self.sum_x_log_x = float(np.dot(x, np.log(x)))


def _objective(log_params, d: _Data):
    p, q, v = np.exp(log_params)
    xv, cx = d.x_values, d.count_x
    log_xm_v = np.log(d.xm + v)
    ll = (
        np.dot(cx, gammaln(p * xv + q) - gammaln(p * xv))
        - d.n * gammaln(q)
        + d.n * q * np.log(v)
        + p * d.sum_x_log_m
        - d.sum_log_m
        + p * d.sum_x_log_x
        - p * np.dot(d.x, log_xm_v)
        - q * log_xm_v.sum()
    )
    d_p = np.dot(cx * xv, psi(p * xv + q) - psi(p * xv)) + d.sum_x_log_m + d.sum_x_log_x - np.dot(d.x, log_xm_v)
    d_q = np.dot(cx, psi(p * xv + q)) - d.n * psi(q) + d.n * np.log(v) - log_xm_v.sum()
    inv = 1.0 / (d.xm + v)
    d_v = d.n * q / v - p * np.dot(d.x, inv) - q * inv.sum()
    return ll, np.array([d_p * p, d_q * q, d_v * v])


def fit(x, m) -> GammaGammaFit:
    """Maximum-likelihood parameters from repeat buyers (x > 0 and m > 0; others are ignored)."""
    x, m = np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64)
    keep = (x > 0) & (m > 0)
    if not keep.any():
        raise FitError("no repeat buyer with a positive spend, so spend per purchase cannot be estimated")
    data = _Data(x[keep], m[keep])
    start = np.log([1.0, 1.0, float(np.mean(m[keep]))])
    best = maximise(lambda params: _objective(params, data), start, data.n)
    p, q, v = best.params
    return GammaGammaFit(GammaGamma(p, q, v), best.log_likelihood, int(keep.sum()), best.iterations)


def expected_spend(params: GammaGamma, x, m) -> np.ndarray:
    """E[spend per purchase | x, m]: the posterior mean, shrunk toward the population mean
    p·v/(q − 1). Customers with no repeat purchase get the population mean."""
    p, q, v = params.p, params.q, params.v
    x, m = np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64)
    m = np.where(x > 0, m, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):  # q ≤ 1: no finite mean; stored as NULL
        return p * (v + x * m) / (p * x + q - 1)
