"""Reads for the API and the admin.

A shop's key reads a customer through its shop group's *slice* (docs/architecture.md,
"Per-shop profiles"): the profile its group's identities hold, figures summed from its
group's orders, and the person-wide metrics only when no shop is outside the group (then
every order of every person is the group's). Nothing in a slice depends on what a shop of
another group sent: whether the person-wide figures show is the same for every customer,
so it tells nothing about one.

Nor does the id a key knows a customer by: it is the group's own (``group_refs``), allotted
when the group first knew the person, never the CRM's customer id, which would be far
below the latest for a person another shop brought in long ago.
"""

from collections.abc import Iterable
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

from customers.models import (
    ConsentEvent,
    Customer,
    CustomerIdentity,
    CustomerMerge,
    CustomerMetrics,
    Order,
    Refund,
    Shop,
    ShopTag,
)

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


def group_refs(*, shop: Shop) -> QuerySet[CustomerIdentity]:
    """One row per customer of ``shop``'s group: the group's earliest identity of them.

    Its pk is the customer's id through the group's keys. It was allotted when a shop of the
    group first sent the person, from the sequence every identity draws from, so it orders
    the person among the group's customers by when the group came to know them, and says
    nothing of when (or whether) another group did. Read newest first, it walks the
    identities' primary key backwards and stops at a page (no sort of the whole group)."""
    group = group_identities(shop=shop)
    earlier = group.filter(customer=OuterRef("customer_id"), pk__lt=OuterRef("pk"))
    return group.filter(~Exists(earlier))


def customer_refs(*, shop: Shop, customer_ids: Iterable[int]) -> dict[int, int]:
    """{CRM customer id: the id ``shop``'s key knows them by} (``group_refs``), for those of
    ``customer_ids`` linked to the group; one query."""
    rows = (
        group_identities(shop=shop)
        .filter(customer_id__in=set(customer_ids))
        .order_by()
        .values("customer_id")
        .annotate(ref=Min("pk"))
    )
    return {row["customer_id"]: row["ref"] for row in rows}


def customers_by_ref(customers: QuerySet[Customer], *, shop: Shop, ref: int) -> QuerySet[Customer]:
    """``customers`` narrowed to the one ``ref`` names through ``shop``'s key: the customer of
    that identity of the group. Any of the group's identities of the person names them (the
    API shows the earliest), so an id a shop kept still works after a manager put its shop in
    a group with another that knew the person first."""
    return customers.filter(pk__in=group_identities(shop=shop).filter(pk=ref).values("customer_id"))


def customer_of_ref(*, shop: Shop, ref: int) -> QuerySet[Customer]:
    """The customer ``ref`` names through ``shop``'s key, as a queryset (empty if none)."""
    return customers_by_ref(Customer.objects.all(), shop=shop, ref=ref)


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


def group_orders(*, shop: Shop, customer: OuterRef) -> QuerySet[Order]:
    """The counted orders of ``customer`` (an outer reference) with ``shop``'s group, grouped
    by customer: the base of the slice's order figures (subqueries on the order index)."""
    return Order.objects.counted().filter(customer=customer, shop__group_id=shop.group_id).order_by().values("customer")


def group_orders_count(*, shop: Shop, customer: OuterRef) -> Coalesce:
    """How many counted orders ``customer`` (an outer reference) has with ``shop``'s group."""
    return Coalesce(Subquery(group_orders(shop=shop, customer=customer).annotate(v=Count("pk")).values("v")), 0)


def customer_profiles_for_shop(*, shop: Shop) -> QuerySet[Customer]:
    """Customers of ``shop``'s group with what their slice needs: the group's identities
    and the group's order figures (correlated subqueries on the order index, so a page of
    customers still costs one query), and whether any shop is outside the group."""
    orders = group_orders(shop=shop, customer=OuterRef("pk"))
    net = Greatest(F("total_base") - F("refunded_base"), Value(ZERO), output_field=MONEY)
    return (
        customers_for_shop(shop=shop)
        .select_related("metrics")
        .annotate(
            slice_orders=group_orders_count(shop=shop, customer=OuterRef("pk")),
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
    id: int  # the group's id of the customer (``group_refs``), not the CRM's
    external_ids: list[str]
    email: str
    first_name: str
    last_name: str
    phone: str
    country: str
    birthday: date | None
    time_zone: str
    tags: list[str]
    marketing_consent: bool | None  # None: no shop of the group ever said
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


PROFILE = ("email", "first_name", "last_name", "phone", "country", "birthday", "time_zone")


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
        id=min(i.pk for i in identities),
        external_ids=[i.external_id for i in identities if i.shop_id == shop.pk],
        **profile,
        tags=sorted({t.tag.name for t in customer.group_tags}),
        marketing_consent=consent,
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


@dataclass(frozen=True)
class ConsentHistory:
    """A customer's marketing consent for the staff: the state at each shop that knows them
    (``None``: the shop never said), and the history, newest first."""

    identities: list[CustomerIdentity]  # with their shop, by the shop's name
    events: list[ConsentEvent]  # with their shop and staff member, newest first
    more: bool  # whether older events were left out

    @property
    def given(self) -> list[CustomerIdentity]:
        """The shops the customer consents to now."""
        return [i for i in self.identities if i.marketing_consent]


def customer_consent(customer_id: int, *, limit: int) -> ConsentHistory:
    """Two queries: the identities, and the newest ``limit`` events (one more is read to
    tell whether there are more, rather than counting them)."""
    identities = list(
        CustomerIdentity.objects.filter(customer_id=customer_id).select_related("shop").order_by("shop__name", "pk")
    )
    events = list(
        ConsentEvent.objects.filter(customer_id=customer_id)  # by the (customer, at) index
        .select_related("shop", "by")
        .order_by("-at", "-id")[: limit + 1]
    )
    return ConsentHistory(identities=identities, events=events[:limit], more=len(events) > limit)


def merged_into(customer_id: int) -> list[int]:
    """The customer and every customer merged into them and not unmerged, through chains of
    merges (A into B, then B into C: C's list holds all three), the customer first.

    The duplicates' own rows keep their profile (an undo needs it): whatever is done to the
    person, an erasure say, is done to these rows too."""
    found = [customer_id]
    frontier = [customer_id]
    while frontier:
        frontier = [
            m
            for m in CustomerMerge.objects.filter(survivor_id__in=frontier, undone_at__isnull=True).values_list(
                "merged_id", flat=True
            )
            if m not in found
        ]
        found.extend(frontier)
    return found
