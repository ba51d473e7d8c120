"""Lifetime value: historical, the marketers' simple formula, and predicted from BG/NBD + Gamma-Gamma."""

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
    horizons = np.arange(1, months + 1) * DAYS_PER_MONTH / days_per_unit
    if_alive = expected_purchases_if_alive(params, horizons, x, T)  # months × customers
    increments = np.diff(if_alive, axis=0, prepend=0.0)
    discount = (1.0 + monthly_discount_rate) ** -np.arange(1, months + 1)
    discounted = discount @ increments
    spend = np.asarray(expected_spend, dtype=np.float64)
    return p_alive(params, x, t_x, T) * spend * discounted * margin
