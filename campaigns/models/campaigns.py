"""Campaigns: one email sent once to the members of some segments, now, at a time, or at an
hour of each customer's own day.

A campaign owns one ``Email`` (its variants and holdout, ``campaigns.models.emails``) and
says who gets it (target segments minus exclusion segments, within its shop), when, and
under which frequency cap. Its status moves draft → scheduled → sending → sent, or to
cancelled; the periodic send pass (``campaigns.campaigns.sending``) takes a scheduled
campaign once its time has come, and keeps taking it while some customers wait for their
hour, their quiet hours or the end of an automatic winner's test.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from campaigns.models.emails import Email, Variant
from campaigns.models.segments import Segment
from customers.models import Shop


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    CANCELLED = "cancelled", "Cancelled"


class Timing(models.TextChoices):
    AT = "at", "At a time (or now)"
    LOCAL_HOUR = "local_hour", "At an hour of each customer's day"


class Campaign(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    email = models.OneToOneField(Email, on_delete=models.PROTECT, related_name="campaign")
    segments = models.ManyToManyField(
        Segment, related_name="+", help_text="Who gets it: the current members of any of these segments."
    )
    excluded_segments = models.ManyToManyField(
        Segment,
        related_name="+",
        blank=True,
        help_text="… except the current members of any of these.",
    )
    status = models.CharField(max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    timing = models.CharField(max_length=10, choices=Timing.choices, default=Timing.AT)
    send_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When it goes (empty: when you press Send now). At an hour of each customer's day: "
        "from this moment on, each customer gets it the first time their clock reads that hour.",
    )
    local_hour = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(23)], help_text="The hour of the customer's day (0–23)."
    )
    cap_hours = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(24 * 14)],
        help_text="Frequency cap in hours for this campaign (0: none). Empty: the sending policy's.",
    )
    # The automatic winner: the test share gets the variants; after the test hours the best
    # variant goes to the rest (``campaigns.campaigns.winner``).
    auto_winner = models.BooleanField(
        default=False, help_text="Send the variants to a test share first, then the best one to the rest."
    )
    test_percent = models.PositiveSmallIntegerField(
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="The test share of the audience.",
    )
    test_hours = models.PositiveSmallIntegerField(
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 7)],
        help_text="How long the test runs before the winner is picked.",
    )
    winner = models.ForeignKey(Variant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    winner_picked_at = models.DateTimeField(null=True, blank=True)
    winner_note = models.CharField(max_length=300, blank=True, help_text="Why this winner, or why none.")
    # What the send pass records.
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    audience_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="The reachable audience when sending started."
    )
    excluded_counts = models.JSONField(default=dict, blank=True, help_text="Who was left out then, and why.")
    # A pass holds the campaign until then, so two passes never work on one campaign at once.
    claimed_until = models.DateTimeField(null=True, blank=True)
    scheduled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("send_campaign", "Can send, schedule and cancel campaigns")]
        constraints = [
            models.CheckConstraint(
                condition=Q(local_hour__isnull=True) | Q(local_hour__lte=23), name="campaign_local_hour_valid"
            ),
            models.CheckConstraint(
                condition=~Q(timing="local_hour") | Q(local_hour__isnull=False), name="campaign_local_hour_set"
            ),
            models.CheckConstraint(
                condition=Q(test_percent__gte=1) & Q(test_percent__lte=90), name="campaign_test_percent_valid"
            ),
        ]
        indexes = [
            # The send pass: campaigns that are due or still sending.
            models.Index(
                fields=["status", "send_at"],
                name="campaign_due_idx",
                condition=Q(status__in=["scheduled", "sending"]),
            ),
        ]

    def __str__(self):
        return self.name
