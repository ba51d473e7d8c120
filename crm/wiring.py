"""What one app lends another, connected here in the composition layer so the apps keep
importing only ``customers``: the loyalty tier and points in support's macros, beside a
ticket and in email templates, campaigns' recommended products, the lifecycle stage and the
latest order in email templates, a tier
with priority support counting as high value for support's SLA policies, and a published
review earning loyalty's review bonus; and a new shop getting campaigns' ready-made flows."""

from collections import defaultdict

from django.conf import settings
from django.db.models import Max
from django.db.models.signals import post_save

from campaigns.flows.shipped import shipped_flows_install
from campaigns.recommendations.selectors import recommended_products
from crm.webhooks.events import reviews_published_record
from customers.models import Customer, CustomerMetrics, Order, Shop
from loyalty.bonuses import reviews_published
from loyalty.models import Account
from loyalty.selectors import PointsTotal, points_total
from messaging.services import order_values, register_context
from support.extensions import (
    register_customer_facts,
    register_high_value,
    register_review_published,
    register_variable,
)


def _points_total(ticket, cache: dict) -> PointsTotal:
    # Staff answer the person, so the macros speak of all their accounts (shop groups) together.
    if "loyalty_total" not in cache:
        cache["loyalty_total"] = points_total(ticket.customer_id)
    return cache["loyalty_total"]


def _tier_name(ticket, cache: dict) -> str:
    tier = _points_total(ticket, cache).tier
    return tier.name if tier else ""


def _points(ticket, cache: dict) -> str:
    return f"{_points_total(ticket, cache).balance:,}"


def loyalty_facts(customer_id: int) -> list[tuple[str, str]]:
    """The loyalty tier and points for the ticket page (one query), over all their accounts."""
    total = points_total(customer_id)
    points = f"{total.balance:,} points" + (f" (+{total.pending:,} pending)" if total.pending else "")
    return [("Loyalty tier", total.tier.name if total.tier else "no tier yet"), ("Points", points)]


def has_priority_support(customer: Customer) -> bool:
    """A tier with priority support in any of the customer's accounts."""
    return Account.objects.filter(customer_id=customer.pk, tier__priority_support=True).exists()


def email_tiers(customer_ids: list[int]) -> dict[int, str]:
    """``{{ tier }}`` in email templates: each customer's highest tier over their accounts
    ("" before the first). One query for all of them."""
    best: dict[int, tuple[int, str]] = {}
    for customer_id, rank, name in Account.objects.filter(customer_id__in=customer_ids, tier__isnull=False).values_list(
        "customer_id", "tier__rank", "tier__name"
    ):
        if customer_id not in best or rank > best[customer_id][0]:
            best[customer_id] = (rank, name)
    return {customer_id: best[customer_id][1] if customer_id in best else "" for customer_id in customer_ids}


def email_points(customer_ids: list[int]) -> dict[int, int]:
    """``{{ points }}`` in email templates: points available to spend, summed over the
    customer's accounts (shop groups). One query."""
    totals: dict[int, int] = defaultdict(int)
    for customer_id, balance in Account.objects.filter(customer_id__in=customer_ids).values_list(
        "customer_id", "balance"
    ):
        totals[customer_id] += balance
    return {customer_id: totals[customer_id] for customer_id in customer_ids}


def email_stages(customer_ids: list[int]) -> dict[int, str]:
    """``{{ stage }}`` in email templates: the lifecycle stage as people read it ("At risk");
    "" before the first recompute. One query."""
    labels = dict(CustomerMetrics._meta.get_field("stage").choices or [])
    stages = dict(CustomerMetrics.objects.filter(customer_id__in=customer_ids).values_list("customer_id", "stage"))
    return {customer_id: str(labels.get(stages.get(customer_id, ""), "")) for customer_id in customer_ids}


def email_last_orders(customer_ids: list[int]) -> dict[int, dict]:
    """``{{ last_order }}`` in email templates: the customer's latest counted order (number,
    placed_on, total, currency), as ``order`` is; absent before the first. Two queries."""
    latest = (
        Order.objects.counted()
        .filter(customer_id__in=customer_ids)
        .values("customer_id")
        .annotate(last=Max("placed_at"))
        .values_list("customer_id", "last")
    )
    wanted = dict(latest)
    found: dict[int, dict] = {}
    orders = Order.objects.counted().filter(customer_id__in=list(wanted), placed_at__in=set(wanted.values()))
    for order in orders.order_by("customer_id", "-id"):
        if order.placed_at == wanted.get(order.customer_id) and order.customer_id not in found:
            found[order.customer_id] = order_values(order)
    return found


def _shipped_flows_for_a_new_shop(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """A shop created after the migrations (the admin, ``create_shop``) gets the ready-made
    flows, switched off, in the transaction that creates it, as ``migrate`` gives every shop
    that exists then. ``SHIPPED_FLOWS_FOR_NEW_SHOPS = False`` skips it (the test suite, whose
    thousands of shops need none)."""
    if created and not raw and settings.SHIPPED_FLOWS_FOR_NEW_SHOPS:
        shipped_flows_install(shop=instance)


def connect() -> None:
    post_save.connect(_shipped_flows_for_a_new_shop, sender=Shop, dispatch_uid="crm-shipped-flows-new-shop")
    register_variable(
        "loyalty_tier",
        "the customer's highest loyalty tier over their shop groups (left out before the first one: "
        "'as a {{ loyalty_tier }} member' reads 'as a member')",
        _tier_name,
    )
    register_variable("points", "the customer's points available to spend, summed over their shop groups", _points)
    register_customer_facts(loyalty_facts)
    register_high_value(has_priority_support)
    register_review_published(reviews_published)
    register_review_published(reviews_published_record)
    register_context("tier", email_tiers)
    register_context("points", email_points)
    register_context("recommended_products", recommended_products)
    register_context("stage", email_stages)
    register_context("last_order", email_last_orders)
