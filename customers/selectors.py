"""Reads for the API and the admin.

A shop's key reads a customer through its shop group's *slice* (docs/architecture.md,
"Per-shop profiles"): the profile its group's identities hold, figures summed from its
group's orders, and the person-wide metrics only when no shop is outside the group (then
every order of every person is the group's). Nothing in a slice depends on what a shop of
another group sent: whether the person-wide figures show is the same for every customer,
so it tells nothing about one.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest

from customers.models import Customer, CustomerIdentity, CustomerMetrics, Order, Refund, Shop, ShopTag

ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=14, decimal_places=2)


def customers_for_shop(*, shop: Shop) -> QuerySet[Customer]:
    """Customers linked to ``shop``'s group by at least one identity: all a shop's key may see."""
    linked = CustomerIdentity.objects.filter(customer=OuterRef("pk"), shop__group_id=shop.group_id)
    return Customer.objects.filter(Exists(linked))


def group_shops(*, shop: Shop) -> QuerySet[Shop]:
    """The ids of the shops in ``shop``'s group, as a subquery."""
    return Shop.objects.filter(group_id=shop.group_id).order_by().values("pk")


def group_identities(*, shop: Shop) -> QuerySet[CustomerIdentity]:
    return CustomerIdentity.objects.filter(shop__group_id=shop.group_id)


def with_group_names(customers: QuerySet[Customer], *, shop: Shop) -> QuerySet[Customer]:
    """``customers`` with ``group_email``, ``group_first_name`` and ``group_last_name``: the
    latest non-empty values ``shop``'s group sent (for lists that show only a name)."""
    sent = group_identities(shop=shop).filter(customer=OuterRef("pk")).order_by("-updated_at", "-pk")
    return customers.annotate(
        **{
            f"group_{name}": Coalesce(Subquery(sent.exclude(**{name: ""}).values(name)[:1]), Value(""))
            for name in ("email", "first_name", "last_name")
        }
    )


def shops_outside(*, shop: Shop) -> Exists:
    """Whether any shop is outside ``shop``'s group: then a figure computed on every order of
    a person (stage, RFM, CLV, P(alive)) may include another group's, and a key never sees it.

    Asked of the installation, not of the customer, on purpose: hiding the figures only for
    people who also buy elsewhere would tell the key who does. Uncorrelated, so the database
    evaluates it once per query."""
    return Exists(Shop.objects.exclude(group_id=shop.group_id))


def customer_profiles_for_shop(*, shop: Shop) -> QuerySet[Customer]:
    """Customers of ``shop``'s group with what their slice needs: the group's identities
    and the group's order figures (correlated subqueries on the order index, so a page of
    customers still costs one query), and whether any shop is outside the group."""
    orders = (
        Order.objects.counted()
        .filter(customer=OuterRef("pk"), shop__group_id=shop.group_id)
        .order_by()
        .values("customer")
    )
    net = Greatest(F("total_base") - F("refunded_base"), Value(ZERO), output_field=MONEY)
    return (
        customers_for_shop(shop=shop)
        .select_related("metrics")
        .annotate(
            slice_orders=Coalesce(Subquery(orders.annotate(v=Count("pk")).values("v")), 0),
            slice_revenue=Coalesce(Subquery(orders.annotate(v=Sum(net)).values("v")), Value(ZERO), output_field=MONEY),
            slice_first_order=Subquery(orders.annotate(v=Min("placed_at")).values("v")),
            slice_last_order=Subquery(orders.annotate(v=Max("placed_at")).values("v")),
            other_groups=shops_outside(shop=shop),
        )
        .prefetch_related(
            Prefetch(
                "shop_tags",
                queryset=ShopTag.objects.filter(shop__group_id=shop.group_id).select_related("tag"),
                to_attr="group_tags",
            ),
            Prefetch(
                "identities",
                queryset=group_identities(shop=shop).select_related("shop").order_by("updated_at", "pk"),
                to_attr="group_identities",
            ),
        )
    )


@dataclass(frozen=True)
class CustomerSlice:
    """A customer as a shop's key sees it. Attributes not declared here (``loyalty``) are
    read from the customer, for the other apps' parts of the profile."""

    customer: Customer
    id: int
    external_ids: list[str]
    email: str
    first_name: str
    last_name: str
    phone: str
    country: str
    birthday: date | None
    tags: list[str]
    marketing_consent: bool
    marketing_consent_at: datetime | None
    first_seen_at: datetime | None
    source: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    orders_count: int
    net_revenue: Decimal
    avg_order_value: Decimal
    first_order_at: datetime | None
    last_order_at: datetime | None
    aggregates_updated_at: datetime | None
    metrics: CustomerMetrics | None
    created_at: datetime
    updated_at: datetime

    @property
    def clv_historical(self) -> Decimal:
        return self.net_revenue

    def __getattr__(self, name):
        return getattr(self.customer, name)


PROFILE = ("email", "first_name", "last_name", "phone", "country", "birthday")


def customer_slice(customer: Customer, *, shop: Shop) -> CustomerSlice:
    """``customer`` (from ``customer_profiles_for_shop``) as ``shop``'s key sees it.

    Profile precedence inside a group: per field, the value of the identity updated last
    that has one (an empty value never erases). The first touch (first seen, source, UTM)
    is the group's earliest identity's. Person-wide metrics (stage, RFM, CLV, P(alive)) and
    the time the person's figures were last updated come from every order of the person,
    so they show only when no shop is outside the group (``shops_outside``).
    """
    identities = customer.group_identities  # oldest update first
    profile: dict = {name: "" for name in PROFILE} | {"birthday": None}
    consent, consent_at = None, None
    for identity in identities:
        for name in PROFILE:
            value = getattr(identity, name)
            if value not in ("", None):
                profile[name] = value
        if identity.marketing_consent is not None:
            consent, consent_at = identity.marketing_consent, identity.marketing_consent_at
    first = min(identities, key=lambda i: (i.first_seen_at or i.created_at, i.pk))
    count, revenue = customer.slice_orders, customer.slice_revenue
    whole = not customer.other_groups
    metrics = getattr(customer, "metrics", None) if whole else None
    return CustomerSlice(
        customer=customer,
        id=customer.pk,
        external_ids=[i.external_id for i in identities if i.shop_id == shop.pk],
        **profile,
        tags=sorted({t.tag.name for t in customer.group_tags}),
        marketing_consent=bool(consent),
        marketing_consent_at=consent_at,
        first_seen_at=first.first_seen_at or first.created_at,
        source=first.source or first.shop.slug,
        utm_source=first.utm_source,
        utm_medium=first.utm_medium,
        utm_campaign=first.utm_campaign,
        orders_count=count,
        net_revenue=revenue,
        avg_order_value=(revenue / count).quantize(ZERO, ROUND_HALF_UP) if count else ZERO,
        first_order_at=customer.slice_first_order,
        last_order_at=customer.slice_last_order,
        aggregates_updated_at=customer.aggregates_updated_at if whole else None,
        metrics=metrics,
        created_at=min(i.created_at for i in identities),
        updated_at=max(i.updated_at for i in identities),
    )


@dataclass(frozen=True)
class CurrencySpend:
    """What a customer spent in one currency: their counted orders in it, net of refunds."""

    currency: str
    orders: int
    net: Decimal


def customer_spend_by_currency(customer_id: int) -> list[CurrencySpend]:
    """The customer's net spend per order currency, most orders first (one query). The customer's
    figures (net revenue, AOV, CLV) are these converted to the base currency at each order's
    rate: this says in which currencies the money came."""
    refunded = (
        Refund.objects.filter(order=OuterRef("pk"))
        .order_by()
        .values("order")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    net = Greatest(F("total") - Coalesce(Subquery(refunded, output_field=MONEY), ZERO, output_field=MONEY), ZERO)
    rows = (
        Order.objects.counted()
        .filter(customer_id=customer_id)
        .order_by()
        .values("currency")
        .annotate(orders=Count("pk"), net=Sum(net, output_field=MONEY))
        .order_by("-orders", "currency")
    )
    return [CurrencySpend(r["currency"], r["orders"], r["net"]) for r in rows]
