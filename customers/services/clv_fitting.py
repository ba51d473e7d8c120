"""Fit the BG/NBD + Gamma-Gamma models on the whole customer base and store them.

The fit reads every counted order up to the observation end as (customer, day, net amount)
rows, summarises them with ``customers.metrics.summary`` and maximises the likelihoods with
``customers.metrics``. It also stores the RFM breakpoints (quintiles over every buyer) and a
holdout check. A failed or unconverged fit is stored with its reason and never replaces the
current model; too few repeat buyers gives "not enough data".
"""

import logging
import time
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from django.utils import timezone

from core.days import end_of
from customers.metrics import bgnbd, clv, gamma_gamma, rfm
from customers.metrics.fitting import FitError
from customers.metrics.summary import TIME_UNITS, Summary, summarise
from customers.models import ClvModel, LifecycleSettings, Shop
from customers.services.order_days import OrderRows, day_number, fetch_order_days
from customers.services.recompute_chunk import MONEY_LIMIT_CENTS

logger = logging.getLogger(__name__)

HOLDOUT_BUCKETS = 7  # repeat purchases 0, 1, …, 6+ in the calibration period


@dataclass(frozen=True)
class FitInputs:
    summary: Summary
    end_day: int
    time_unit: str

    @property
    def unit(self) -> float:
        return TIME_UNITS[self.time_unit]

    def x_tx_T(self):
        s = self.summary
        return s.frequency.astype(np.float64), s.recency(self.time_unit), s.age(self.end_day, self.time_unit)


def load_inputs(*, until: date, time_unit: str, shop: Shop | None = None) -> FitInputs:
    """Every counted order placed up to and including ``until`` (a day in the CRM's time zone)."""
    where, params = ("o.shop_id = %s", [shop.pk]) if shop else ("1 = 1", [])
    orders = _without_outliers(fetch_order_days(where, params, end_of(until), times=False))
    summary = summarise(orders.customer_ids, orders.days, orders.amounts)
    return FitInputs(summary=summary, end_day=day_number(until), time_unit=time_unit)


def _without_outliers(orders: OrderRows) -> OrderRows:
    """The orders less those of customers no fit should learn from: one with an order before
    1970 (a typo for a year, or a row planted past the API's checks) or a lifetime spend
    beyond what the aggregates can hold. One such customer moved every Gamma-Gamma parameter
    (p from 6.2 to 12.1 on CDNOW) and so everyone's predicted CLV. They are logged by id."""
    if not orders.customer_ids.size:
        return orders
    # Nobody can spend beyond the limit when everyone together did not: no grouping needed.
    if not (orders.days < 0).any() and orders.cents.sum(dtype=np.float64) < MONEY_LIMIT_CENTS:
        return orders
    ids, pos = np.unique(orders.customer_ids, return_inverse=True)
    spend = np.bincount(pos, weights=orders.cents.astype(np.float64), minlength=ids.size)
    early = np.bincount(pos, weights=orders.days < 0, minlength=ids.size) > 0
    outliers = ids[early | (spend >= MONEY_LIMIT_CENTS)]
    if not outliers.size:
        return orders
    logger.error(
        "CLV fit: left out %d customers whose orders no model should learn from "
        "(placed before 1970, or a lifetime spend beyond numeric(14,2)): %s",
        outliers.size,
        ", ".join(map(str, outliers[:100].tolist())) + (" …" if outliers.size > 100 else ""),
    )
    keep = ~np.isin(orders.customer_ids, outliers)
    return OrderRows(orders.customer_ids[keep], orders.days[keep], orders.cents[keep], orders.placed_us[keep])


def rfm_breakpoints(inputs: FitInputs) -> dict:
    s = inputs.summary
    return {
        "recency": rfm.breakpoints(-(inputs.end_day - s.last_day)),
        "frequency": rfm.breakpoints(s.purchase_days),
        "monetary": rfm.breakpoints(s.total),
    }


def holdout_check(*, until: date, holdout_days: int, time_unit: str, shop: Shop | None = None) -> dict:
    """Fit on the data before a holdout period, predict the holdout, compare with what happened.

    The calibration period ends ``holdout_days`` before ``until``. For customers of the
    calibration period, bucketed by their calibration repeat purchases (0 … 6+): mean
    predicted and mean actual purchase days in the holdout period.
    """
    calibration_end = until - timedelta(days=holdout_days)
    calibration = load_inputs(until=calibration_end, time_unit=time_unit, shop=shop)
    x, t_x, T = calibration.x_tx_T()
    fitted = bgnbd.fit(x, t_x, T)
    predicted = bgnbd.expected_purchases(fitted.params, holdout_days / calibration.unit, x, t_x, T)

    full = load_inputs(until=until, time_unit=time_unit, shop=shop).summary
    pos = np.searchsorted(full.customer_ids, calibration.summary.customer_ids)
    later_days = full.purchase_days[pos] - calibration.summary.purchase_days  # purchase days in the holdout
    buckets = np.minimum(x.astype(np.int64), HOLDOUT_BUCKETS - 1)
    rows = []
    for k in range(HOLDOUT_BUCKETS):
        members = buckets == k
        if members.any():
            rows.append(
                {
                    "frequency": f"{k}+" if k == HOLDOUT_BUCKETS - 1 else str(k),
                    "customers": int(members.sum()),
                    "predicted": float(predicted[members].mean()),
                    "actual": float(later_days[members].mean()),
                }
            )
    return {
        "calibration_end": calibration_end.isoformat(),
        "holdout_days": holdout_days,
        "buckets": rows,
        "predicted_total": float(predicted.sum()),
        "actual_total": int(later_days.sum()),
    }


def clv_fit(
    *, until: date | None = None, time_unit: str | None = None, shop: Shop | None = None, with_holdout: bool = True
) -> ClvModel:
    """Fit and store a model (its status says whether it can be used)."""
    lifecycle = LifecycleSettings.load()
    until = until or timezone.localdate()
    time_unit = time_unit or lifecycle.time_unit
    started = time.perf_counter()
    inputs = load_inputs(until=until, time_unit=time_unit, shop=shop)
    s = inputs.summary
    model = ClvModel(
        shop=shop,
        observation_end=until,
        time_unit=time_unit,
        n_customers=int(s.customer_ids.size),
        n_repeat_buyers=int((s.frequency > 0).sum()),
        rfm_breakpoints=rfm_breakpoints(inputs) if s.customer_ids.size else {},
    )
    if model.n_repeat_buyers < lifecycle.min_repeat_buyers:
        model.status = ClvModel.Status.NOT_ENOUGH_DATA
        model.message = (
            f"{model.n_repeat_buyers} repeat buyers; the model needs at least {lifecycle.min_repeat_buyers}."
        )
    else:
        try:
            _fit_into(model, inputs)
            model.clv_percentiles = _clv_percentiles(model, inputs, lifecycle)
            if with_holdout:
                model.holdout = _holdout_or_reason(until, lifecycle.holdout_days, time_unit, shop)
            model.status = ClvModel.Status.FITTED
        except FitError as exc:
            model.status = ClvModel.Status.FAILED
            model.message = f"The fit failed, so the previous model stays in use: {exc}."
            logger.warning("CLV fit failed: %s", exc)
    model.fit_seconds = time.perf_counter() - started
    model.save()
    return model


def _fit_into(model: ClvModel, inputs: FitInputs) -> None:
    x, t_x, T = inputs.x_tx_T()
    purchases = bgnbd.fit(x, t_x, T)
    spend = gamma_gamma.fit(x, inputs.summary.monetary)
    values = {**purchases.params.as_dict(), **spend.params.as_dict()}
    values["bgnbd_log_likelihood"] = purchases.log_likelihood
    values["gamma_gamma_log_likelihood"] = spend.log_likelihood
    bad = [name for name, value in values.items() if not np.isfinite(value)]
    if bad:
        raise FitError(f"non-finite {', '.join(bad)}")
    if spend.params.q <= 1:
        raise FitError(f"Gamma-Gamma q = {spend.params.q:.3f} ≤ 1 gives no finite mean spend")
    for name, value in values.items():
        setattr(model, name, float(value))


def _clv_percentiles(model: ClvModel, inputs: FitInputs, lifecycle: LifecycleSettings) -> list[float]:
    """Every buyer's predicted 12-month CLV at the fit, summarised as percentiles: what a
    "top N %" segment condition compares with, a constant instead of a ranking of the base."""
    x, t_x, T = inputs.x_tx_T()
    params = bgnbd.BgNbd(model.r, model.alpha, model.a, model.b)
    spend = gamma_gamma.expected_spend(gamma_gamma.GammaGamma(model.p, model.q, model.v), x, inputs.summary.monetary)
    predicted = clv.predicted_clv(
        params,
        spend,
        x,
        t_x,
        T,
        days_per_unit=inputs.unit,
        monthly_discount_rate=lifecycle.monthly_discount_rate,
        margin=lifecycle.margin,
    )
    return clv.percentiles(predicted)


def _holdout_or_reason(until: date, holdout_days: int, time_unit: str, shop: Shop | None) -> dict:
    try:
        return holdout_check(until=until, holdout_days=holdout_days, time_unit=time_unit, shop=shop)
    except FitError as exc:
        return {"error": f"The calibration-period fit failed: {exc}."}
