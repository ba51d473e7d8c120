"""The transactional outbox of follow-up work: customers whose derived data is behind.

A write that changes what a customer's figures, points or segments are computed from
(an order, a refund, an event, an NPS answer) marks the customer here, in the same
transaction as the data (``customers.services.pending_updates``). The mark is committed
if and only if the data is, so the follow-up survives a broker outage, a lost task or a
killed worker: a drain (``crm.follow_up``) takes marked customers in batches and removes
each mark only once the work is done, unless it was marked again meanwhile.
"""

from django.db import models

from customers.models.commerce import Customer


class PendingUpdate(models.Model):
    """One row per customer with follow-up work to do: many marks coalesce into one."""

    customer = models.OneToOneField(Customer, primary_key=True, on_delete=models.CASCADE, related_name="+")
    marked_at = models.DateTimeField(help_text="When the customer was first marked: the outbox's age.")
    # A fresh random number at every mark: a drain removes the row only if it still holds the
    # number it claimed, so a mark made while the work ran is never lost.
    version = models.BigIntegerField()
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="A drain is working on it until then; after that anyone may retry."
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = "pending customer update"
        indexes = [models.Index(fields=["marked_at"], name="pendingupdate_marked_idx")]

    def __str__(self):
        return f"Customer {self.customer_id}, marked {self.marked_at:%Y-%m-%d %H:%M:%S}"
