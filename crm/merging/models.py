"""Suggested duplicates as the last build found them: the table the "Suggested duplicates"
page reads, and when it was built (``crm.merging.suggestions``, docs/merge.md).

Imported by ``crm.models`` so Django sees them as models of the crm app. They live here,
beside the code that builds and reads them, rather than beside ``CustomerMerge`` in the
customers app: no other app reads them.
"""

from django.db import models
from django.db.models import F, Q

from customers.models import Customer


class DuplicateSuggestion(models.Model):
    """A pair of customers that may be one person. Derived: rebuilt whole from the customers
    and their orders (nightly, and when the staff ask from the page). A pair whose customer
    was merged away since the build is hidden when read. It holds only the two ids and the
    reasons; the values compared stay on the customers' rows."""

    id = models.BigAutoField(primary_key=True)
    first = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)  # the older
    second = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)  # the newer
    same_phone = models.BooleanField()
    # The same last name and first initial, with one shipping address in two shops.
    same_address = models.BooleanField()

    class Meta:
        verbose_name = "suggested duplicate"
        constraints = [
            # One row a pair. The page's order (newest first: second, then first, both
            # descending) is this index read backwards; the search's "the second customer
            # matches" is its leading column.
            models.UniqueConstraint(fields=["second", "first"], name="suggestion_pair_once"),
            models.CheckConstraint(condition=Q(first__lt=F("second")), name="suggestion_pair_ordered"),
        ]
        indexes = [
            # The search's "the first customer matches".
            models.Index(fields=["first"], name="suggestion_first_idx"),
        ]

    def __str__(self):
        return f"#{self.first_id} and #{self.second_id}"


class SuggestionBuild(models.Model):
    """When the suggested duplicates were last built: one row (``id`` 1), which a build
    locks, so that two builds run one after the other."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    # When the last build started: the list is as of then.
    built_at = models.DateTimeField(null=True, blank=True)
    took = models.DurationField(null=True, blank=True)
    pairs = models.PositiveIntegerField(default=0)
    # A rebuild asked for from the page that has not finished yet.
    requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "duplicate suggestions build"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="suggestion_build_one_row")]

    def __str__(self):
        return f"built {self.built_at:%Y-%m-%d %H:%M}" if self.built_at else "never built"
