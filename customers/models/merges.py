"""The log of customers merged by the staff: who was merged into whom, by whom, and exactly
which rows moved, so that the merge can be undone (docs/merge.md).

The merge itself composes every app, so it lives in the composition layer
(``crm.merging``); the log lives here, beside the customers it names, so that any app may
read it (loyalty follows a merged customer's order points through it).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from customers.models.commerce import Customer


class CustomerMerge(models.Model):
    """``merged`` (the duplicate) was merged into ``survivor``.

    ``moved`` holds the ids of the rows that moved, per model (``{"customers.Order": [12,
    13]}``): undo moves exactly those back. ``points`` holds what the ledger moved per shop
    group (``{"3": [available, pending]}``), ``profile`` the survivor's fields filled from the
    duplicate (their names), ``counts`` what the page shows (rows moved and kept, per kind).
    The duplicate's row is kept, emptied: it is what an undo moves the rows back to.
    """

    id = models.BigAutoField(primary_key=True)
    survivor = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    merged = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_at = models.DateTimeField()
    moved = models.JSONField(default=dict)
    points = models.JSONField(default=dict)
    profile = models.JSONField(default=list)
    counts = models.JSONField(default=dict)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "merge"
        ordering = ["-merged_at", "-id"]
        permissions = [("merge_customers", "Can merge duplicate customers and undo merges")]
        constraints = [
            models.CheckConstraint(condition=~Q(survivor=models.F("merged")), name="merge_not_self"),
            # A duplicate is merged away once; after an undo it may be merged again.
            models.UniqueConstraint(fields=["merged"], condition=Q(undone_at__isnull=True), name="merge_merged_once"),
        ]
        indexes = [
            # Loyalty's award follows the merges of a chunk's customers (``loyalty.merged``),
            # and undo looks for later merges of either customer.
            models.Index(fields=["survivor"], condition=Q(undone_at__isnull=True), name="merge_survivor_idx"),
        ]

    def __str__(self):
        return f"#{self.merged_id} into #{self.survivor_id}"

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None
