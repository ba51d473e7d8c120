"""Lifetime value: historical, the marketers' simple formula, and predicted from BG/NBD + Gamma-Gamma."""

from dataclasses import dataclass

import numpy as np

from customers.metrics.bgnbd import BgNbd, expected_purchases_if_alive, p_alive

DAYS_PER_MONTH = 365.25 / 12  # an average month; lifetimes uses 4.345 weeks (30.415 days)


def simple_clv(avg_order_value, orders_per_year, lifespan_years: float) -> np.ndarray:
    """Average order value × purchases per year × expected lifespan in years."""
    return np.asarray(avg_order_value, dtype=np.float64) * np.asarray(orders_per_year) * lifespan_years


def predicted_clv(
    params: BgNbd,
    expected_spend,
    x,
    t_x,
    T,
    *,
    days_per_unit: float,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    margin: float = 1.0,
) -> np.ndarray:
    """Discounted value of the purchases expected in each of the next ``months`` months.

    Month i's purchases are E[Y(i months)] − E[Y(i − 1 months)], valued at the expected
    spend per purchase, discounted by (1 + rate)^i, times the margin (1 = revenue). As
    E[Y] = P(alive) × E[Y | alive], the discounted sum is P(alive) × spend × Σ_i
    (E[Y_i | alive] − E[Y_{i−1} | alive]) / (1 + rate)^i.
    """
    return predict(
        params,
        expected_spend,
        x,
        t_x,
        T,
        horizons=[],
        days_per_unit=days_per_unit,
        months=months,
        monthly_discount_rate=monthly_discount_rate,
        margin=margin,
    ).clv


def _month_horizons(months: int, days_per_unit: float) -> np.ndarray:
    return np.arange(1, months + 1) * DAYS_PER_MONTH / days_per_unit


def _discounted(if_alive_by_month: np.ndarray, monthly_discount_rate: float) -> np.ndarray:
    """Σ_i (E[Y_i | alive] − E[Y_{i−1} | alive]) / (1 + rate)^i, per customer."""
    months = if_alive_by_month.shape[0]
    increments = np.diff(if_alive_by_month, axis=0, prepend=0.0)
    return (1.0 + monthly_discount_rate) ** -np.arange(1, months + 1) @ increments


def percentiles(values) -> list[float]:
    """The values at percentiles 0, 1, …, 100 (finite values only; empty when there are none)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return np.percentile(values, np.arange(101)).tolist() if values.size else []


def threshold_for_top(percentile_values: list[float], top_percent: float) -> float:
    """The CLV above which a customer is in the top ``top_percent`` % (0–100)."""
    return float(np.interp(100.0 - top_percent, np.arange(len(percentile_values)), percentile_values))


@dataclass(frozen=True)
class Predictions:
    p_alive: np.ndarray
    expected_purchases: np.ndarray  # horizons × customers
    clv: np.ndarray


def predict(
    params: BgNbd,
    expected_spend,
    x,
    t_x,
    T,
    *,
    horizons,
    days_per_unit: float,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    margin: float = 1.0,
) -> Predictions:
    """P(alive), the purchases expected within each of ``horizons`` (in the model's time
    unit) and ``predicted_clv``, together: the distinct (x, T) pairs are found once and
    P(alive) computed once, instead of once per figure (half the time on a million)."""
    horizons = np.asarray(horizons, dtype=np.float64)
    all_horizons = np.concatenate([horizons, _month_horizons(months, days_per_unit)])
    if_alive = expected_purchases_if_alive(params, all_horizons, x, T)
    alive = p_alive(params, x, t_x, T)
    spend = np.asarray(expected_spend, dtype=np.float64)
    discounted = _discounted(if_alive[horizons.size :], monthly_discount_rate)
    return Predictions(
        p_alive=alive,
        expected_purchases=if_alive[: horizons.size] * alive,
        clv=alive * spend * discounted * margin,
    )
