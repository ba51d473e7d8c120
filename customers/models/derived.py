"""What the CRM derives from the commerce data: metrics, lifecycle stages and CLV models.

Rows here are rewritten by ``customers.services.recompute_chunk`` (set-based, one chunk of
customers per statement) and ``customers.services.clv_fitting``; nothing else writes them,
except ``CustomerSignal``, which other apps feed through ``customers.services.signals``.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from customers.metrics import rfm
from customers.metrics import stages as rules
from customers.models.commerce import Customer, Shop

UNIT_INTERVAL = [MinValueValidator(0.0), MaxValueValidator(1.0)]


class Stage(models.TextChoices):
    PROSPECT = rules.PROSPECT, "Prospect"
    NEW = rules.NEW, "New"
    ACTIVE = rules.ACTIVE, "Active"
    ADVOCATE = rules.ADVOCATE, "Advocate"
    AT_RISK = rules.AT_RISK, "At risk"
    LAPSED = rules.LAPSED, "Lapsed"
    REACTIVATED = rules.REACTIVATED, "Reactivated"


class LifecycleSettings(models.Model):
    """The thresholds behind stages and CLV: one row, edited in the admin."""

    new_days = models.PositiveIntegerField(default=60, help_text="A single purchase this recent is 'new'.")
    lapsed_days = models.PositiveIntegerField(default=365, help_text="No purchase for this long: lapsed.")
    lapsed_p_alive = models.FloatField(default=0.15, validators=UNIT_INTERVAL, help_text="P(alive) below: lapsed.")
    at_risk_p_alive = models.FloatField(default=0.5, validators=UNIT_INTERVAL, help_text="P(alive) below: at risk.")
    overdue_factor = models.FloatField(
        default=2.0, validators=[MinValueValidator(1.0)], help_text="At risk when waiting longer than this × usual gap."
    )
    reactivated_days = models.PositiveIntegerField(default=90, help_text="How long a returning customer stays so.")
    signal_days = models.PositiveIntegerField(
        default=365, help_text="Promoter and detractor signals count for this many days."
    )
    time_unit = models.CharField(max_length=5, choices=[("days", "days"), ("weeks", "weeks")], default="weeks")
    monthly_discount_rate = models.FloatField(default=0.01, validators=UNIT_INTERVAL)
    margin = models.FloatField(
        default=1.0, validators=UNIT_INTERVAL, help_text="Share of revenue that is profit; 1 gives CLV as revenue."
    )
    simple_lifespan_years = models.FloatField(default=3.0, validators=[MinValueValidator(0.0)])
    min_repeat_buyers = models.PositiveIntegerField(default=200, help_text="Fewer repeat buyers: no CLV model.")
    holdout_days = models.PositiveIntegerField(default=90, help_text="Holdout period of the model health check.")

    class Meta:
        verbose_name = verbose_name_plural = "lifecycle settings"

    def __str__(self):
        return "Lifecycle settings"

    @classmethod
    def load(cls) -> "LifecycleSettings":
        return cls.objects.get_or_create(pk=1)[0]

    def thresholds(self) -> rules.Thresholds:
        return rules.Thresholds(
            new_days=self.new_days,
            lapsed_days=self.lapsed_days,
            lapsed_p_alive=self.lapsed_p_alive,
            at_risk_p_alive=self.at_risk_p_alive,
            overdue_factor=self.overdue_factor,
            reactivated_days=self.reactivated_days,
        )


class ClvModel(models.Model):
    """One BG/NBD + Gamma-Gamma fit, kept whether it worked or not (the admin shows why)."""

    class Status(models.TextChoices):
        FITTED = "fitted", "Fitted"
        FAILED = "failed", "Failed"
        NOT_ENOUGH_DATA = "not_enough_data", "Not enough data"

    fitted_at = models.DateTimeField(auto_now_add=True)
    shop = models.ForeignKey(Shop, null=True, blank=True, on_delete=models.CASCADE, help_text="Empty: all shops.")
    status = models.CharField(max_length=20, choices=Status.choices)
    message = models.TextField(blank=True)
    observation_end = models.DateField()
    time_unit = models.CharField(max_length=5)
    n_customers = models.PositiveIntegerField(default=0)
    n_repeat_buyers = models.PositiveIntegerField(default=0)
    r = models.FloatField(null=True, blank=True)
    alpha = models.FloatField(null=True, blank=True)
    a = models.FloatField(null=True, blank=True)
    b = models.FloatField(null=True, blank=True)
    bgnbd_log_likelihood = models.FloatField(null=True, blank=True)
    p = models.FloatField(null=True, blank=True)
    q = models.FloatField(null=True, blank=True)
    v = models.FloatField(null=True, blank=True)
    gamma_gamma_log_likelihood = models.FloatField(null=True, blank=True)
    rfm_breakpoints = models.JSONField(default=dict, blank=True)
    clv_percentiles = models.JSONField(
        default=list, blank=True, help_text="Predicted 12-month CLV at each percentile 0…100 of buyers, at the fit."
    )
    holdout = models.JSONField(default=dict, blank=True, help_text="Predicted vs actual purchases by frequency.")
    fit_seconds = models.FloatField(default=0.0)

    class Meta:
        verbose_name = "CLV model"
        ordering = ["-fitted_at", "-id"]
        indexes = [models.Index(fields=["shop", "status", "-fitted_at"], name="clvmodel_current_idx")]

    def __str__(self):
        return f"{self.get_status_display()} model, {self.fitted_at:%Y-%m-%d %H:%M}"

    @classmethod
    def current(cls, shop: Shop | None = None) -> "ClvModel | None":
        return cls.objects.filter(shop=shop, status=cls.Status.FITTED).first()


class CustomerMetrics(models.Model):
    """A customer's derived figures as of ``computed_at``: one row per customer."""

    customer = models.OneToOneField(Customer, primary_key=True, on_delete=models.CASCADE, related_name="metrics")
    computed_at = models.DateTimeField()
    # No index: each nightly refit makes a new model, and an indexed column that changes turns
    # the nightly in-place (HOT) rewrite of every buyer's row into index writes (twice the
    # time). Deleting a model, which would use it, is rare and may scan this narrow table.
    model = models.ForeignKey(
        ClvModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    purchase_days = models.PositiveIntegerField(default=0)
    first_purchase_on = models.DateField(null=True, blank=True)
    last_purchase_on = models.DateField(null=True, blank=True)
    recency_days = models.PositiveIntegerField(null=True, blank=True, help_text="First purchase day to last.")
    tenure_days = models.PositiveIntegerField(null=True, blank=True, help_text="First purchase day to now.")
    days_since_last = models.PositiveIntegerField(null=True, blank=True)
    gap_median_days = models.FloatField(null=True, blank=True)
    gap_mean_days = models.FloatField(null=True, blank=True)
    repeat_spend_mean = models.FloatField(null=True, blank=True, help_text="Mean spend per repeat purchase day.")
    rfm_r = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_f = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_m = models.PositiveSmallIntegerField(null=True, blank=True)
    rfm_segment = models.CharField(max_length=20, blank=True, choices=list(rfm.SEGMENT_LABELS.items()))
    p_alive = models.FloatField(null=True, blank=True)
    expected_purchases_30 = models.FloatField(null=True, blank=True)
    expected_purchases_90 = models.FloatField(null=True, blank=True)
    expected_purchases_365 = models.FloatField(null=True, blank=True)
    expected_spend = models.FloatField(null=True, blank=True)
    clv_predicted = models.FloatField(null=True, blank=True, help_text="Predicted 12-month CLV, base currency.")
    clv_simple = models.FloatField(null=True, blank=True)
    promoter = models.BooleanField(default=False)
    detractor = models.BooleanField(default=False)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.PROSPECT)
    stage_rule = models.CharField(max_length=32, blank=True)
    stage_since = models.DateTimeField()

    class Meta:
        verbose_name_plural = "customer metrics"
        # Admin filters and segment conditions on stage and RFM segment, which change rarely.
        # P(alive) and CLV change every day for every buyer: an index on them would turn each
        # nightly in-place (HOT) update into index writes; filters on them scan this narrow table.
        indexes = [
            # With the customer id, segment rules on stage or RFM group read the index alone.
            models.Index(fields=["stage", "customer"], name="metrics_stage_customer_idx"),
            models.Index(fields=["rfm_segment", "customer"], name="metrics_rfm_customer_idx"),
        ]

    def __str__(self):
        return f"Metrics of customer {self.customer_id}"

    def reason(self, thresholds: rules.Thresholds | None = None) -> str:
        """The stage's plain-English reason, from the numbers stored with it."""
        if not self.stage_rule:
            return ""
        return rules.reason(
            self.stage_rule,
            purchase_days=self.purchase_days,
            days_since_last=self.days_since_last,
            gap_median=self.gap_median_days,
            p_alive=self.p_alive,
            t=thresholds or LifecycleSettings.load().thresholds(),
        )


class StageChange(models.Model):
    """A customer moving from one lifecycle stage to another, and why."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=12, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=12, choices=Stage.choices)
    changed_at = models.DateTimeField()
    reason = models.TextField()

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-changed_at"], name="stagechange_customer_idx"),
            # Reports: the flow between stages over a period.
            models.Index(fields=["changed_at"], name="stagechange_changed_at_idx"),
        ]

    def __str__(self):
        return f"{self.from_stage or '—'} → {self.to_stage}"

    @property
    def reason_shown(self) -> str:
        """The reason as shown beside the stage: rows written before reasons stopped
        repeating their stage ("at risk: last order …") are shown without it."""
        return rules.reason_without_stage(self.reason, self.to_stage)


class CustomerSignal(models.Model):
    """A promoter or detractor fact about a customer, fed by other apps (NPS, reviews, CSAT,
    referrals) through ``customers.services.signals``, so this app imports none of them."""

    class Kind(models.TextChoices):
        PROMOTER = "promoter", "Promoter"
        DETRACTOR = "detractor", "Detractor"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="signals")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source = models.CharField(max_length=40, help_text="What produced it, e.g. nps, review, csat, referral.")
    source_id = models.CharField(max_length=64, blank=True, help_text="The producing row, so a replay adds nothing.")
    occurred_at = models.DateTimeField()
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_id", "kind"],
                condition=~models.Q(source_id=""),
                name="signal_source_uniq",
            ),
        ]
        indexes = [models.Index(fields=["customer", "occurred_at"], name="signal_customer_idx")]

    def __str__(self):
        return f"{self.kind} ({self.source})"
