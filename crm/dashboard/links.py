"""Where each figure leads: the admin's lists, filtered to what the figure counts.

Customers go to the customers list with its dashboard filter (``bought``, ``not_bought``,
``bought_shop``, ``clv``: ``customers/admin/drilldown.py``) and its own filters (stage, the
shop that first saw them); orders, answers, tickets, stage changes and ledger entries go to
their lists with lookups on their own columns. Times are sent as instants with their
offset, so the lists read them exactly as the rollups do.
"""

from datetime import date
from urllib.parse import urlencode

from django.urls import reverse

from crm.dashboard import days as d
from crm.dashboard.figures.base import Period

HOME_SHOP = "first_seen_shop__id__exact"
COUNTED = "placed,paid,fulfilled"


def _url(name: str, params: dict) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{reverse(name)}?{query}" if query else reverse(name)


def _within(field: str, first: date, last: date) -> dict:
    return {f"{field}__{op}": moment.isoformat() for op, moment in d.span(first, last).items()}


def days(first: date | None, last: date | None, *, times: int = 1) -> str:
    """A range of days as the customers list reads it: ``2026-01-01..2026-01-31``."""
    text = f"{first.isoformat() if first else ''}..{last.isoformat() if last else ''}"
    return f"{text}*{times}" if times > 1 else text


def customers(*, bought=(), not_bought=(), shop: int | None = None, by_order_shop: bool = False, **more) -> str:
    """The customers list: ``bought``/``not_bought`` are ranges (``days``); ``shop`` is the
    shop that first saw them, or with ``by_order_shop`` the shop they bought in."""
    params = {"bought": ",".join(bought) or None, "not_bought": ",".join(not_bought) or None, **more}
    if shop is not None:
        params["bought_shop" if by_order_shop else HOME_SHOP] = shop
    return _url("admin:customers_customer_changelist", params)


def buyers(period: Period, **more) -> str:
    return customers(bought=[days(period.first, period.last)], shop=period.shop_id, **more)


def orders(period: Period) -> str:
    return _url(
        "admin:customers_order_changelist",
        {**_within("placed_at", period.first, period.last), "status__in": COUNTED, "shop__id__exact": period.shop_id},
    )


def stage(stage_value: str, shop: int | None) -> str:
    return _url("admin:customers_customer_changelist", {"stage": stage_value, HOME_SHOP: shop})


def stage_changes(period: Period, from_stage: str, to_stage: str) -> str:
    return _url(
        "admin:customers_stagechange_changelist",
        {
            **_within("changed_at", period.first, period.last),
            "from_stage__exact": from_stage,  # empty: a first stage
            "to_stage__exact": to_stage,
            "customer__first_seen_shop__id__exact": period.shop_id,
        },
    )


def clv_band(low, high, shop: int | None) -> str:
    if low is None:
        value = "none"
    else:
        value = f"{low}..{high if high is not None else ''}"
    return _url("admin:customers_customer_changelist", {"clv": value, HOME_SHOP: shop})


def nps(period: Period, **score) -> str:
    return _url(
        "admin:support_npsresponse_changelist",
        {**_within("created_at", period.first, period.last), **score, "shop__id__exact": period.shop_id},
    )


def csat(period: Period, **rating) -> str:
    return _url(
        "admin:support_csatresponse_changelist",
        {**_within("created_at", period.first, period.last), **rating, "ticket__shop__id__exact": period.shop_id},
    )


def tickets(period: Period, at: str, **more) -> str:
    return _url(
        "admin:support_ticket_changelist",
        {
            "view": "all",
            **_within(at, period.first, period.last),
            "merged_into__isnull": "True",  # a merge closes a ticket, not an answer
            **more,
            "shop__id__exact": period.shop_id,
        },
    )


def points(period: Period, kinds: str, group: int | None) -> str:
    return _url(
        "admin:loyalty_pointsentry_changelist",
        {**_within("created_at", period.first, period.last), "kind__in": kinds, "group__id__exact": group},
    )


def accounts(group: int | None, *, pending: bool = False) -> str:
    """The accounts holding spendable points, or with ``pending`` those holding pending ones."""
    held = "pending__gt" if pending else "balance__gt"
    return _url("admin:loyalty_account_changelist", {"group__id__exact": group, held: 0})
