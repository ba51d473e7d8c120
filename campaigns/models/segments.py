"""Segments: who a campaign or a report is about, with versioned rules and membership history."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from customers.models import Customer


class Segment(models.Model):
    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", "Dynamic (a rule)"
        STATIC = "static", "Static (a list)"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(
        blank=True, help_text="Who is in it and what it is for, in a sentence or two: shown in the segment list."
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.DYNAMIC)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Kept by the refresh.
    member_count = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    refresh_seconds = models.FloatField(null=True, blank=True)
    # When membership was first worked out (the first refresh, or a static segment's first
    # list): the membership history starts here, and the stays opened then are the first
    # fill, not entries.
    history_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def current_version(self) -> "SegmentVersion | None":
        """The latest rule version: from ``with_rules()`` when prefetched, else one query."""
        if hasattr(self, "latest_versions"):
            return self.latest_versions[0] if self.latest_versions else None
        return self.versions.order_by("-number").first()

    @staticmethod
    def with_rules_prefetch() -> models.Prefetch:
        """The prefetch behind ``current_version``: versions, newest first."""
        newest_first = SegmentVersion.objects.order_by("-number")
        return models.Prefetch("versions", queryset=newest_first, to_attr="latest_versions")

    @classmethod
    def with_rules(cls):
        """Segments with their versions prefetched, newest first (one more query in all)."""
        return cls.objects.prefetch_related(cls.with_rules_prefetch())


class SegmentVersion(models.Model):
    """One version of a dynamic segment's rule; editing the rule adds a version."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    rule = models.JSONField()
    sentence = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["segment", "-number"]
        constraints = [models.UniqueConstraint(fields=["segment", "number"], name="segmentversion_number_uniq")]

    def __str__(self):
        return f"{self.segment} v{self.number}"


class SegmentMembership(models.Model):
    """A customer's stay in a segment: from entered_at until exited_at (open while a member).

    The rows are the history: entries and exits over time, and the version of the rule the
    customer matched. Campaigns trigger on them (entered or left since a time)."""

    # No single-column indexes on the keys: the composite indexes below start with segment
    # and with customer, and a version is only ever deleted with its segment. Every index
    # costs each of the millions of stays a refresh writes (docs/benchmarks.md, "Segments").
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="segment_memberships", db_index=False)
    version = models.ForeignKey(
        SegmentVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-entered_at"]
        constraints = [
            # At most one open stay per customer and segment; it also serves "current members".
            models.UniqueConstraint(
                fields=["segment", "customer"], condition=Q(exited_at__isnull=True), name="membership_open_uniq"
            ),
            models.CheckConstraint(
                condition=Q(exited_at__isnull=True) | Q(exited_at__gte=models.F("entered_at")),
                name="membership_exit_after_entry",
            ),
        ]
        indexes = [
            # A customer's segments and stays (API, the 360 page), the incremental refresh,
            # and deleting a customer.
            models.Index(fields=["customer", "segment"], name="membership_customer_all_idx"),
            # Entries and exits over time, per segment (chart, triggers). Open stays have no
            # exit, so the exits index leaves them out: a first fill writes nothing to it.
            models.Index(fields=["segment", "entered_at"], name="membership_entered_idx"),
            models.Index(
                fields=["segment", "exited_at"], name="membership_exits_idx", condition=Q(exited_at__isnull=False)
            ),
        ]

    def __str__(self):
        return f"{self.customer_id} in {self.segment_id}"


class SegmentPastCount(models.Model):
    """The member count at the end of a day before the segment's recorded history began,
    worked out from the order history with the rule of ``version`` (``campaigns.backfill``):
    the chart's line before the first refresh. Only rules that can be read as of a past date
    have these rows."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="past_counts", db_index=False)
    day = models.DateField()
    members = models.PositiveIntegerField()
    version = models.ForeignKey(
        SegmentVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["segment", "day"]
        constraints = [
            # One count per segment and day; it also serves the chart's read of a segment's days.
            models.UniqueConstraint(fields=["segment", "day"], name="segmentpastcount_day_uniq"),
        ]

    def __str__(self):
        return f"{self.segment_id} on {self.day}: {self.members}"
