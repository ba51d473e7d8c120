"""The dashboard's rollups: per day (and shop) aggregates the KPIs are read from, kept by
``crm.dashboard.refresh`` (every ten minutes for the recent days, and rebuilt weekly) so
that a view never scans the orders, the ledger or the stage history.

Two ways a row is tied to a shop, said once here and on the dashboard:
- *by the order, ticket, answer or ledger entry*: sales by the order's shop, support by the
  ticket's or answer's shop, points by the shop's group;
- *by the customer*: customer figures (buyers, retention, cohorts, stages, CLV) by the shop
  that first saw the customer (``Customer.first_seen_shop``, the filter of that name on the
  customers list), so that each customer counts in exactly one shop and shops add up.
``shop`` is NULL for what no shop is attached to; those count under "all shops" only.

Rows are replaced whole for the days a refresh recomputes (delete, then insert), so they
are never updated in place and carry no timestamps of their own; ``RollupState`` says when
they were last refreshed.
"""

from django.db import models
from django.db.models import Q

from customers.models import MONEY, Shop, ShopGroup, Stage


def _per_day(*fields: str, name: str) -> list[models.UniqueConstraint]:
    """One row per day and ``fields``: with a shop, and once more without (NULL)."""
    return [
        models.UniqueConstraint(fields=["day", "shop", *fields], condition=Q(shop__isnull=False), name=f"{name}_uniq"),
        models.UniqueConstraint(fields=["day", *fields], condition=Q(shop__isnull=True), name=f"{name}_noshop_uniq"),
    ]


class DailySales(models.Model):
    """Counted orders (not cancelled or refunded) placed on ``day`` in ``shop``, in
    ``currency``: how many, and their total net of refunds, in that currency and converted."""

    day = models.DateField()
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    currency = models.CharField(max_length=3)
    orders = models.PositiveIntegerField()
    revenue = models.DecimalField(**MONEY, help_text="Net of refunds, in ``currency``.")
    revenue_base = models.DecimalField(**MONEY, help_text="Net of refunds, in the base currency.")

    class Meta:
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["day", "shop", "currency"], name="dailysales_uniq")]

    def __str__(self):
        return f"{self.day} {self.shop_id} {self.currency}: {self.orders} orders"


class DailyBuyers(models.Model):
    """The customers who placed a counted order on ``day`` (``buyer_ids``) and those of them
    for whom it was their first ever (``new_ids``), by the shop that first saw them.

    The ids are kept, packed (``crm.dashboard.id_sets``), because distinct customers do not
    add up over days: buyers of a period, returning ones, retention (buyers of two periods),
    repeat buyers and cohorts are unions and intersections of these sets, exact, read in
    milliseconds for a month (about 5,000 ids a day at a million customers)."""

    day = models.DateField()
    shop = models.ForeignKey(Shop, null=True, on_delete=models.CASCADE, related_name="+")
    buyers = models.PositiveIntegerField()
    new = models.PositiveIntegerField()
    buyer_ids = models.BinaryField()
    new_ids = models.BinaryField()

    class Meta:
        default_permissions = ()
        constraints = _per_day(name="dailybuyers")

    def __str__(self):
        return f"{self.day} {self.shop_id}: {self.buyers} buyers, {self.new} new"


class CohortMonth(models.Model):
    """Of the customers whose first counted order was in ``cohort`` (a month's first day),
    how many ordered in ``month``: the cohort retention heatmap (``month == cohort`` is the
    cohort's size). By the shop that first saw them."""

    cohort = models.DateField()
    month = models.DateField()
    shop = models.ForeignKey(Shop, null=True, on_delete=models.CASCADE, related_name="+")
    customers = models.PositiveIntegerField()

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["month", "cohort", "shop"], condition=Q(shop__isnull=False), name="cohortmonth_uniq"
            ),
            models.UniqueConstraint(
                fields=["month", "cohort"], condition=Q(shop__isnull=True), name="cohortmonth_noshop_uniq"
            ),
        ]

    def __str__(self):
        return f"cohort {self.cohort:%Y-%m} in {self.month:%Y-%m}: {self.customers}"


class DailyStageFlow(models.Model):
    """Customers who moved from one lifecycle stage to another on ``day`` (``from_stage``
    empty: their first stage), from ``customers.StageChange``. Summed up to a day, the flows
    give how many customers were in each stage at its end."""

    day = models.DateField()
    shop = models.ForeignKey(Shop, null=True, on_delete=models.CASCADE, related_name="+")
    from_stage = models.CharField(max_length=12, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=12, choices=Stage.choices)
    customers = models.PositiveIntegerField()

    class Meta:
        default_permissions = ()
        constraints = _per_day("from_stage", "to_stage", name="dailystageflow")

    def __str__(self):
        return f"{self.day}: {self.from_stage or '—'} → {self.to_stage} ×{self.customers}"


class DailyFeedback(models.Model):
    """NPS answers (promoters 9–10, detractors 0–6) and CSAT ratings (satisfied: 4–5) given
    on ``day``, by the answer's shop (a CSAT rating: its ticket's)."""

    day = models.DateField()
    shop = models.ForeignKey(Shop, null=True, on_delete=models.CASCADE, related_name="+")
    nps_responses = models.PositiveIntegerField(default=0)
    nps_promoters = models.PositiveIntegerField(default=0)
    nps_detractors = models.PositiveIntegerField(default=0)
    csat_responses = models.PositiveIntegerField(default=0)
    csat_satisfied = models.PositiveIntegerField(default=0)

    class Meta:
        default_permissions = ()
        constraints = _per_day(name="dailyfeedback")

    def __str__(self):
        return f"{self.day} {self.shop_id}: NPS ×{self.nps_responses}, CSAT ×{self.csat_responses}"


class DailyResponseTimes(models.Model):
    """Tickets whose first response (``kind`` "first_response") or resolution ("resolution")
    came on ``day``, by how many whole minutes after the ticket opened, and whether within
    the SLA target (``met``, ``missed``; neither: no target recorded). Kept by the minute so
    the median of any period is exact."""

    class Kind(models.TextChoices):
        FIRST_RESPONSE = "first_response", "first response"
        RESOLUTION = "resolution"

    day = models.DateField()
    shop = models.ForeignKey(Shop, null=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=14, choices=Kind.choices)
    minutes = models.PositiveIntegerField()
    tickets = models.PositiveIntegerField()
    met = models.PositiveIntegerField()
    missed = models.PositiveIntegerField()

    class Meta:
        default_permissions = ()
        constraints = _per_day("kind", "minutes", name="dailyresponsetimes")

    def __str__(self):
        return f"{self.day} {self.kind} {self.minutes} min ×{self.tickets}"


class DailyPoints(models.Model):
    """Loyalty points moved on ``day`` in a shop group's accounts, from the ledger:
    earned (pending or available), redeemed, expired, given back on refunds and
    cancellations, returned by reward codes that expired unused, and adjusted by hand (net).
    Each is positive: how many points went that way."""

    day = models.DateField()
    group = models.ForeignKey(ShopGroup, on_delete=models.CASCADE, related_name="+")
    issued = models.BigIntegerField(default=0)
    redeemed = models.BigIntegerField(default=0)
    expired = models.BigIntegerField(default=0)
    reversed = models.BigIntegerField(default=0)
    restored = models.BigIntegerField(default=0)
    adjusted = models.BigIntegerField(default=0)

    class Meta:
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["day", "group"], name="dailypoints_uniq")]

    def __str__(self):
        return f"{self.day} group {self.group_id}: +{self.issued}"


class PointsLiability(models.Model):
    """What a shop group's accounts held at the last refresh of ``day``: spendable points
    (positive balances only: a negative one owes nothing) and pending ones."""

    day = models.DateField()
    group = models.ForeignKey(ShopGroup, on_delete=models.CASCADE, related_name="+")
    available = models.BigIntegerField()
    pending = models.BigIntegerField()

    class Meta:
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["day", "group"], name="pointsliability_uniq")]

    def __str__(self):
        return f"{self.day} group {self.group_id}: {self.available} + {self.pending} pending"


class ClvBand(models.Model):
    """How many customers' predicted 12-month CLV falls in [``low``, ``high``) at the last
    refresh (``high`` NULL: no upper bound; ``low`` NULL: no prediction), and its sum."""

    shop = models.ForeignKey(Shop, null=True, on_delete=models.CASCADE, related_name="+")
    low = models.DecimalField(**MONEY, null=True)
    high = models.DecimalField(**MONEY, null=True)
    customers = models.PositiveIntegerField()
    total = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        default_permissions = ()

    def __str__(self):
        return f"{self.low}–{self.high}: {self.customers}"


class RollupState(models.Model):
    """One row: when the rollups were last refreshed, and how far the refresh has read."""

    refreshed_at = models.DateTimeField(null=True, help_text="When the last refresh finished.")
    rebuilt_at = models.DateTimeField(null=True, help_text="When the last full rebuild finished.")
    orders_read_until = models.DateTimeField(
        null=True, help_text="Orders written or changed before this (less a margin) are in the rollups."
    )
    # The largest points entry id at each refresh, by time: the ledger has no index on its
    # time, so the recent days' entries are read from the id a refresh saw before they began.
    points_marks = models.JSONField(default=list)
    version = models.PositiveIntegerField(default=0, help_text="Moves with every refresh: the cache key's part.")

    class Meta:
        default_permissions = ()
        permissions = [("view_dashboard", "Can view the manager's KPI dashboard")]

    def __str__(self):
        return f"Rollups refreshed at {self.refreshed_at}"

    @classmethod
    def load(cls) -> "RollupState":
        return cls.objects.get_or_create(pk=1)[0]
