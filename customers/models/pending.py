"""The transactional outbox of follow-up work: customers whose derived data is behind.

A write that changes what a customer's figures, points or segments are computed from
(an order, a refund, an event, an NPS answer) adds a row here for the customer, in the same
transaction as the data (``customers.services.pending_updates``). The row is committed if
and only if the data is, so the follow-up survives a broker outage, a lost task or a killed
worker: a drain (``crm.follow_up``) takes rows in batches, does each customer's work once
however many rows name them, and deletes exactly the rows it took.

Append-only on purpose: a mark is a plain insert that never touches an existing row, so
concurrent requests for the same customers never wait on each other. An upsert of one row
per customer had to lock the existing row (so that no drain could take it while the
marking transaction was open), which cost the bulk API a third of its rate.
"""

from django.db import models

from customers.models.commerce import Customer


class PendingUpdate(models.Model):
    """One customer's follow-up work (figures and stage, points, segments) still to do."""

    id = models.BigAutoField(primary_key=True)  # the order of arrival: drains take the oldest
    # No index: the drain reads rows by id, and an index would cost every mark an insert.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)
    marked_at = models.DateTimeField()
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="A drain is working on it until then; after that another may take it."
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = "pending customer update"

    def __str__(self):
        return f"Customer {self.customer_id}, marked {self.marked_at:%Y-%m-%d %H:%M:%S}"
