"""What each customer figure means, in words for the people who read it (the admin's
customer pages show them one hover or click away), and the figures that need words more
than digits: P(alive) of one-time buyers, which the model does not estimate."""

from dataclasses import dataclass

from django.utils.functional import lazy

from core.figures import NONE, percent_text
from customers.models import CustomerMetrics, LifecycleSettings
from customers.services.currency import base_currency

ONE_TIME_BUYER = "not estimated for one-time buyers"
NO_MODEL = "no CLV model fitted yet"


def _with_base_currency(label: str) -> str:
    return f"{label} ({base_currency()})"


# A column heading or filter title naming the base currency, read when shown (the settings
# are not loaded yet when admin classes are defined).
with_base_currency = lazy(_with_base_currency, str)


def p_alive_text(metrics: CustomerMetrics | None) -> str:
    """P(alive) as a percentage, or why there is none.

    BG/NBD lets a customer drop out only after a repeat purchase, so with one purchase day
    P(alive) is 1 by construction: shown as 100 % beside "Lapsed" it contradicts the stage
    and says nothing, so it is not shown for one-time buyers."""
    if metrics is None or not metrics.purchase_days:
        return NONE
    if metrics.purchase_days == 1:
        return ONE_TIME_BUYER
    if metrics.p_alive is None:
        return NO_MODEL
    return percent_text(metrics.p_alive)


@dataclass(frozen=True)
class FigureNotes:
    """One sentence or two per figure, with the settings in force written in."""

    stage: str
    clv_historical: str
    clv_predicted: str
    clv_simple: str
    clv_differences: str
    p_alive: str
    aov: str
    rfm: str
    orders: str
    last_order: str
    points: str


def figure_notes(lifecycle: LifecycleSettings | None = None) -> FigureNotes:
    """The notes with ``lifecycle``'s values; without it, those in force (one read, which
    creates nothing: a page that only explains does not write)."""
    s = lifecycle or LifecycleSettings.objects.filter(pk=1).first() or LifecycleSettings()
    base = base_currency()
    years = f"{s.simple_lifespan_years:g} year{'' if s.simple_lifespan_years == 1 else 's'}"
    margin = "" if s.margin == 1 else f", times a {percent_text(s.margin)} margin"
    counted = "orders not cancelled or refunded, net of refunds"
    return FigureNotes(
        stage=(
            "The customer's lifecycle stage, set by rules on their orders, P(alive) and recent feedback "
            "(the first rule that matches wins); the sentence beside it says which rule and the numbers behind it."
        ),
        clv_historical=(
            f"What the customer has spent to date — every order ({counted}), each converted "
            f"to {base} at its exchange rate when it was placed. Money already received."
        ),
        clv_predicted=(
            "The revenue the customer's future orders are expected to bring in "
            "the coming 12 months. The BG/NBD model predicts how many orders (from how often and how recently "
            "they bought), the Gamma-Gamma model how much each (from their past repeat orders); both are fitted "
            f"on every customer's history. Discounted by {percent_text(s.monthly_discount_rate)} a month"
            f"{margin}, in {base}. Empty until a model is fitted (it needs {s.min_repeat_buyers:,} repeat buyers)."
        ),
        clv_simple=(
            f"Average order value × orders per year × {years} (lifecycle settings), in {base}. "
            f"A rule of thumb: it assumes the customer goes on buying at their past pace for {years}, "
            "whether or not they have stopped."
        ),
        clv_differences=(
            "The three CLVs answer different questions. Historical is the past: money already received. "
            "Predicted is the next 12 months only, and falls as a customer goes quiet: a good customer who "
            "stopped buying keeps a high historical CLV and gets a low predicted one. Simple projects the past "
            f"pace over {years} without asking whether the customer is still buying: it covers {years} where "
            "predicted covers one, and stays high for a customer who stopped."
        ),
        p_alive=(
            "The BG/NBD model's probability that the customer is still buying from you rather than "
            "gone for good, from how often and how recently they bought. Not estimated for one-time buyers: "
            "the model lets a customer drop out only after a repeat purchase, so with one purchase it reads "
            "100% by construction and says nothing; their stage comes from the days since their order instead."
        ),
        aov=f"Net revenue ÷ orders ({counted}), in {base}.",
        rfm=(
            "Recency (days since the last order), frequency (purchase days) and money (net spend), "
            "each scored 1 (lowest fifth of buyers) to 5 (highest fifth); the segment is named from R and the "
            "mean of F and M."
        ),
        orders=f"Orders counted: {counted}.",
        last_order="The day of the customer's last counted order, and how long ago that is.",
        points=(
            "Points over all the customer's shop groups: spendable now, and pending ones that become "
            "spendable when their order's return window has passed."
        ),
    )
