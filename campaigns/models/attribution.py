"""Touchpoints, the credit each attribution model gives them, and marketing spend.

A ``Touchpoint`` is one moment a customer met the marketing: an email opened or clicked (from
the message log's events), an order's own UTM parameters, the source they were first seen
from. ``source_key`` names what the touch belongs to, generically: ``email:<id>`` for a
campaign or flow email (the message key's prefix), ``utm:<source>/<medium>/<campaign>``,
``first_seen:<source>``; campaigns and flows map their own ids onto these keys.

An ``AttributionCredit`` row is one touch's share of an order's net revenue (after refunds)
under each model, a column per model; ``campaigns.attribution.passes`` writes them.
"""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from customers.models import Customer, Order
from messaging.models import Message

MONEY = {"max_digits": 14, "decimal_places": 2}


class TouchKind(models.TextChoices):
    CLICK = "click"
    OPEN = "open"
    UTM = "utm", "UTM on an order"
    FIRST_SEEN = "first_seen", "First-seen source"


class TouchOrigin(models.IntegerChoices):
    EVENT = 1, "Message event"
    ORDER = 2, "Order"
    CUSTOMER = 3, "Customer"


class AttributionModel(models.TextChoices):
    LAST_CLICK = "last_click", "Last click"
    FIRST_CLICK = "first_click", "First click"
    LINEAR = "linear", "Linear"
    TIME_DECAY = "time_decay", "Time decay"
    POSITION = "position", "Position-based (40/20/40)"


class AttributionSettings(models.Model):
    """The windows and the time-decay half-life: one row, edited in the admin
    (``AttributionSettings.current()``)."""

    click_window_hours = models.PositiveIntegerField(
        default=5 * 24, validators=[MinValueValidator(1)], help_text="An order this long after a click counts."
    )
    open_window_hours = models.PositiveIntegerField(
        default=24, validators=[MinValueValidator(1)], help_text="An order this long after an open counts."
    )
    half_life_hours = models.PositiveIntegerField(
        default=7 * 24, validators=[MinValueValidator(1)], help_text="Time decay: a touch this much older counts half."
    )

    class Meta:
        verbose_name = "attribution settings"
        verbose_name_plural = "attribution settings"

    def __str__(self):
        return "Attribution settings"

    @classmethod
    def current(cls) -> "AttributionSettings":
        return cls.objects.order_by("pk").first() or cls()


class Touchpoint(models.Model):
    id = models.BigAutoField(primary_key=True)
    # Derived rows, like the credits below: the pass inserts them with INSERT … SELECT from
    # the very message, order and customer rows they name, so the database's foreign keys
    # would only re-check what the SELECT just read, one row at a time at COMMIT (about 80 s
    # for a full pass's 3.7 M touches). Django's deletes still cascade / set NULL.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    at = models.DateTimeField()
    kind = models.CharField(max_length=12, choices=TouchKind.choices)
    channel = models.CharField(max_length=100, help_text="email, or the UTM/first-seen source.")
    message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    source_key = models.CharField(max_length=200)
    # What made it (a message event, an order or a customer, by id): each once, however often
    # a pass runs. Two integers rather than a text such as "event:<id>": the unique index is
    # built on every first pass, and integers sort far faster than collated text.
    origin_type = models.PositiveSmallIntegerField(choices=TouchOrigin.choices)
    origin_id = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["origin_id", "origin_type"], name="touchpoint_origin_uniq")]
        indexes = [
            # The pass reads a customer's touches in time order.
            models.Index(fields=["customer", "at"], name="touchpoint_customer_at_idx"),
        ]

    def __str__(self):
        return f"{self.kind} {self.source_key} at {self.at:%Y-%m-%d %H:%M}"


class AttributionCredit(models.Model):
    """One touch's credit for one order, under each model side by side: one row per (order,
    touch) in the order's windows, with a column per model (``AttributionModel``'s values).

    One wide row instead of a row per model: a pair is credited by every model that gives it
    a share, so rows per model repeated the order, the touch and the labels up to five
    times (6.4 M rows against 1.7 M for 5 M orders) and the full pass spent most of its
    write on them."""

    id = models.BigAutoField(primary_key=True)
    # No foreign keys in the database: credits are derived rows that every pass deletes and
    # writes again from the orders and touches it has just read, in the same transaction, so
    # they cannot name a missing order or touch. Checking the deferred constraints of a full
    # pass's millions of rows one by one at COMMIT took longer than the rest of the pass
    # (docs/benchmarks.md, "Attribution"). Django's deletes still cascade to them.
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    touchpoint = models.ForeignKey(
        Touchpoint, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    source_key = models.CharField(max_length=200)
    channel = models.CharField(max_length=100)
    placed_at = models.DateTimeField(help_text="The order's, for reading credits by period.")
    last_click = models.DecimalField(**MONEY, default=Decimal(0))
    first_click = models.DecimalField(**MONEY, default=Decimal(0))
    linear = models.DecimalField(**MONEY, default=Decimal(0))
    time_decay = models.DecimalField(**MONEY, default=Decimal(0))
    position = models.DecimalField(**MONEY, default=Decimal(0))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "touchpoint"], name="credit_order_touch_uniq"),
            models.CheckConstraint(
                condition=Q(last_click__gte=0, first_click__gte=0, linear__gte=0, time_decay__gte=0, position__gte=0),
                name="credit_amounts_gte_0",
            ),
        ]
        indexes = [
            # The dashboard and the campaign results: the credits of a period.
            models.Index(fields=["placed_at"], name="credit_placed_idx"),
            # A campaign's or a flow's credits.
            models.Index(fields=["source_key", "placed_at"], name="credit_source_placed_idx"),
        ]

    def __str__(self):
        return f"{self.source_key} for order {self.order_id}"


class AttributionState(models.Model):
    """Where the last pass stopped (one row): the incremental pass starts from here."""

    last_event_id = models.BigIntegerField(default=0)
    last_order_id = models.BigIntegerField(default=0)
    last_touch_id = models.BigIntegerField(default=0)
    changed_since = models.DateTimeField(null=True, blank=True, help_text="Orders and refunds changed after this.")
    settings_key = models.CharField(max_length=64, blank=True, help_text="The settings the credits were made with.")
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return "Attribution state"


class MarketingSpend(models.Model):
    channel = models.CharField(max_length=100, help_text="email, google, facebook … (as in UTM sources).")
    campaign = models.CharField(max_length=200, blank=True, help_text="The campaign label; empty: the whole channel.")
    month = models.DateField(help_text="The first day of the month.")
    amount = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal(0))])
    currency = models.CharField(max_length=3)
    amount_base = models.DecimalField(**MONEY, editable=False, help_text="In the base currency.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "marketing spend"
        verbose_name_plural = "marketing spend"
        ordering = ["-month", "channel", "campaign"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "campaign", "month"], name="spend_channel_campaign_month_uniq"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="spend_amount_gte_0"),
        ]

    def __str__(self):
        return f"{self.channel} {self.campaign or '(all)'} {self.month:%Y-%m}: {self.amount} {self.currency}"
