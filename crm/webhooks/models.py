"""Outbound webhooks' tables (imported by ``crm.models`` so Django sees them as crm's)."""

import uuid

from django.db import models
from django.db.models import Q

from customers.models import Customer, Shop


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class EventType(models.TextChoices):
    STAGE_CHANGED = "customer.stage_changed", "lifecycle stage changed"
    TIER_CHANGED = "loyalty.tier_changed", "loyalty tier changed"
    POINTS_CHANGED = "loyalty.points_changed", "points changed"
    SEGMENT_ENTERED = "segment.entered", "segment entered"
    SEGMENT_LEFT = "segment.left", "segment left"
    TICKET_CREATED = "ticket.created", "ticket created"
    TICKET_SOLVED = "ticket.solved", "ticket solved"
    REVIEW_PUBLISHED = "review.published", "review published"
    CONSENT_CHANGED = "customer.consent_changed", "marketing consent changed"
    CUSTOMER_ERASED = "customer.erased", "customer's personal data erased"


class WebhookEndpoint(models.Model):
    """A URL of one shop's that is sent the events it subscribes to, signed with its secret."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500, help_text="https only; never a private or local address.")
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The event types sent here.")
    active = models.BooleanField(default=True)
    # The signing secret ("whsec_…"), encrypted (crm.webhooks.secrets); shown once, at creation.
    secret_encrypted = models.TextField(editable=False)
    # The current run of failed attempts (reset by a success), and when it began.
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=255, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shop", "url"]

    def __str__(self):
        return self.url


class OutboundDelivery(models.Model):
    """One event for one endpoint: its body, fixed at creation, and how sending it went.

    ``message_id`` is the ``webhook-id`` header: the same on every attempt, so a receiver
    drops a repeat; the signature and its timestamp are made afresh on each attempt."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed", "failed (gave up)"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    # What the event is ("stage:12"): an outbox pass that reads a row twice adds nothing.
    event_key = models.CharField(max_length=80)
    message_id = models.CharField(max_length=40, unique=True, default=new_message_id, editable=False)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    # A failed attempt after this is the last (a day after it was made, or sent again).
    give_up_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "outbound webhook delivery"
        verbose_name_plural = "outbound webhook deliveries"
        permissions = [("resend_outbounddelivery", "Can send an outbound webhook delivery again")]
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_key"], name="outbounddelivery_event_uniq"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "delivered", "failed"]), name="outbounddelivery_status_valid"
            ),
        ]
        indexes = [
            # The sender's claim: pending deliveries by the time they are due.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="outbounddelivery_due_idx"),
            # The delivery log of one endpoint, newest first.
            models.Index(fields=["endpoint", "-id"], name="outbounddelivery_endpoint_idx"),
        ]

    def __str__(self):
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"


class WebhookSource(models.Model):
    """Where the outbox pass stands in one history table (``crm.webhooks.events``)."""

    name = models.CharField(max_length=40, unique=True)
    # Every row up to here was read (by id); at most ``watermark_safe_id``.
    watermark_id = models.BigIntegerField(default=0)
    # Every row up to here has committed: the largest id seen LAG ago.
    watermark_safe_id = models.BigIntegerField(default=0)
    # The table's largest id as seen at ``watermark_at``: the next watermark once LAG passed.
    watermark_next_id = models.BigIntegerField(default=0)
    watermark_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} at {self.watermark_id}"


class WebhookEvent(models.Model):
    """The outbox of events that leave no history row of their own (a review published):
    written in the transaction of the change, read by the outbox pass like a history table."""

    event_type = models.CharField(max_length=40, choices=EventType.choices)
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)
    data = models.JSONField()
    created_at = models.DateTimeField()

    def __str__(self):
        return f"{self.event_type} for {self.customer_id}"
