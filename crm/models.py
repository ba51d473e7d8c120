from django.conf import settings
from django.db import models

from customers.models import Customer, Shop


class IdempotencyRecord(models.Model):
    """The stored response to a request sent with an ``Idempotency-Key`` header.

    A retry with the same key and body gets this response again instead of running twice.
    Records are kept for a day (``crm.services.IDEMPOTENCY_TTL``), then purged hourly.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.TextField(help_text="The JSON body as first sent, byte for byte.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "key"], name="idempotency_shop_key_uniq")]
        # The hourly purge deletes by age.
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self):
        return f"{self.shop_id}:{self.key}"


class Customer360(Customer):
    """The customer 360 page's admin entry (a proxy: no table). Viewing it is its own
    permission, given to every role; the page reads each part only if the role may."""

    class Meta:
        proxy = True
        permissions = [("tag_customer", "Can tag customers from the 360 page")]
        verbose_name = "customer profile"
        verbose_name_plural = "customer profiles"


class CustomerNote(models.Model):
    """An internal note on a customer (not on a ticket), from the 360 page. Staff only."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="customernote_customer_idx")]

    def __str__(self):
        return f"Note on customer {self.customer_id}"


class TaskFailure(models.Model):
    """A background task that failed for good (its retries spent, or an error no retry
    helps), kept for the staff with what it was for (``crm.task_failures``)."""

    task = models.CharField(max_length=200)
    task_id = models.CharField(max_length=64, blank=True)
    arguments = models.JSONField(default=dict, help_text="The task's args and kwargs.")
    error = models.TextField()
    traceback = models.TextField(blank=True)
    failed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-failed_at", "-id"]
        indexes = [models.Index(fields=["-failed_at"], name="taskfailure_failed_idx")]

    def __str__(self):
        return f"{self.task} failed at {self.failed_at:%Y-%m-%d %H:%M}"


class ScheduledRun(models.Model):
    """The last run of each periodic task of ``CELERY_BEAT_SCHEDULE``, one row per entry.

    Written by the in-process scheduler of the embedded default (``crm.scheduler``, which
    also reads it so that a restart does not run everything again) and, under Celery, by the
    worker when a scheduled task finishes (``crm.scheduler.record_beat_task``). The health
    check reads it: "beat's last run" is the same question in both set-ups.
    """

    class Status(models.TextChoices):
        RUNNING = "running"
        OK = "ok"
        FAILED = "failed"

    name = models.CharField(max_length=200, unique=True, help_text="The entry's name in CELERY_BEAT_SCHEDULE.")
    task = models.CharField(max_length=200)
    last_run_at = models.DateTimeField(help_text="When the last run started.")
    last_status = models.CharField(max_length=10, choices=Status.choices)
    last_error = models.TextField(blank=True)
    duration = models.DurationField(null=True, blank=True, help_text="How long the last finished run took.")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} at {self.last_run_at:%Y-%m-%d %H:%M:%S}: {self.last_status}"


# The platforms' connections and webhooks live with their code (crm/connectors/).
from crm.connectors.models import (  # noqa: E402
    ConnectorVersion,
    ShopConnection,
    WebhookDelivery,
)

# The dashboard's rollups live with their code (crm/dashboard/); imported here so Django
# sees them as models of this app.
from crm.dashboard.models import (  # noqa: E402
    ClvBand,
    CohortMonth,
    DailyBuyers,
    DailyFeedback,
    DailyPoints,
    DailyResponseTimes,
    DailySales,
    DailyStageFlow,
    PointsLiability,
    RollupState,
)

# Suggested duplicates as last built live with their code (crm/merging/).
from crm.merging.models import DuplicateSuggestion, SuggestionBuild  # noqa: E402

# Privacy requests (exports and erasures) live with their code (crm/privacy/).
from crm.privacy.models import ErasureLog, PrivacyRequest  # noqa: E402

# Outbound webhooks (crm/webhooks/): endpoints, deliveries, the sources' watermarks.
from crm.webhooks.models import (  # noqa: E402
    OutboundDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookSource,
)

__all__ = [
    "ClvBand",
    "ConnectorVersion",
    "CohortMonth",
    "Customer360",
    "CustomerNote",
    "DailyBuyers",
    "DailyFeedback",
    "DailyPoints",
    "DailyResponseTimes",
    "DailySales",
    "DailyStageFlow",
    "DuplicateSuggestion",
    "IdempotencyRecord",
    "OutboundDelivery",
    "PointsLiability",
    "ErasureLog",
    "PrivacyRequest",
    "RollupState",
    "ScheduledRun",
    "ShopConnection",
    "SuggestionBuild",
    "TaskFailure",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookSource",
]
