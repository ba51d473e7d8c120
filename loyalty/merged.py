"""Customers merged by the staff, as the points ledger follows them.

The ledger is append-only, so a merge (``crm.merging``) moves a duplicate's points by
``transfer`` entries and leaves its earlier entries where they are: an order's stream of
entries (earn, maturation, give-backs; ``loyalty.earning``) may then be split between the
duplicate, who earned it, and the survivor, who now has the order. So whoever reads a
customer's streams reads their merge partners' too (``with_merged``), and a stream's later
entries go to the customer who has the order now (its points were transferred there).
"""

from collections.abc import Iterable

from django.db.models import Q

from core.chunks import among
from customers.models import CustomerMerge

# Chains of merges (A into B, then B into C) are followed this many links deep.
MAX_LINKS = 10


def with_merged(customer_ids: Iterable[int]) -> list[int]:
    """These customers and every customer merged into them or they were merged into (merges
    not undone), followed along chains; sorted. One query when nobody was merged."""
    ids = set(customer_ids)
    frontier = sorted(ids)
    for _ in range(MAX_LINKS):
        if not frontier:
            break
        pairs = CustomerMerge.objects.filter(
            Q(among(frontier, column='"customers_customermerge"."survivor_id"'))
            | Q(among(frontier, column='"customers_customermerge"."merged_id"')),
            undone_at__isnull=True,
        ).values_list("survivor_id", "merged_id")
        found = {customer for pair in pairs for customer in pair} - ids
        ids |= found
        frontier = sorted(found)
    return sorted(ids)
