"""The outbox of follow-up work (``customers.models.PendingUpdate``): mark, claim, release.

- ``pending_updates_mark`` runs inside the transaction that writes the data: one plain
  ``INSERT … SELECT`` of a row per customer, which never waits on another request.
- ``pending_updates_claim`` leases the oldest rows to one drain (``FOR UPDATE SKIP
  LOCKED`` on PostgreSQL, so two drains never take the same rows), and every later row of
  the same customers; each customer is worked once however many rows name them (marks
  coalesce here). A row whose marking
  transaction is still open is invisible, so it waits for the next drain: nothing a drain
  has not seen is ever removed. A drain that dies leaves its lease to run out.
- ``pending_updates_done`` deletes exactly the rows the drain claimed; marks made while it
  worked are other rows, left for the next drain.
- ``pending_updates_failed`` counts the attempt, keeps the error for the staff, and backs
  off before the rows are tried again.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from customers.models import PendingUpdate

# Far longer than a batch of work takes (about 2 s for 5,000 customers), short enough that
# a batch caught by an outage or a killed worker is taken again within a minute. A second
# drain taking rows whose lease ran out while the first still works is harmless: each step
# is idempotent, and each drain deletes only the rows it claimed.
LEASE = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
FIRST_BACKOFF = timedelta(seconds=15)


@dataclass(frozen=True)
class Claim:
    row_ids: list[int]
    customer_ids: list[int]  # distinct, sorted
    attempts: int  # the most any of the rows was tried before


def pending_updates_mark(customer_ids: Sequence[int], *, now: datetime | None = None) -> None:
    """Record that these customers' figures, points and segments are behind their data.
    Call inside the transaction that wrote the data."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    table = connection.ops.quote_name(PendingUpdate._meta.db_table)
    param: list[int] | str
    if connection.vendor == "postgresql":
        select, param = "SELECT id, %s, NULL, 0, '' FROM unnest(%s::bigint[]) AS m(id)", ids
    else:  # one JSON parameter, whatever the number of customers
        select, param = "SELECT value, %s, NULL, 0, '' FROM json_each(%s)", json.dumps(ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (customer_id, marked_at, claimed_until, attempts, last_error) {select}",
            [now or timezone.now(), param],
        )


def pending_updates_claim(*, limit: int, now: datetime | None = None) -> Claim | None:
    """Lease up to ``limit`` of the oldest rows not leased to another drain, and with them
    every other free row of the same customers.

    Those later rows are satisfied by the same work: their data was committed with them,
    before this claim, so the drain reads it. Without them a backlog of many orders per
    customer had each customer recomputed once per batch that named them (six times over for
    a minute of bulk load from 40,000 customers)."""
    now = now or timezone.now()
    with transaction.atomic():
        free = PendingUpdate.objects.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        if connection.features.has_select_for_update_skip_locked:
            free = free.select_for_update(skip_locked=True)
        rows = list(free.order_by("id").values_list("id", "customer_id", "attempts")[:limit])
        if not rows:
            return None
        customer_ids = sorted({r[1] for r in rows})
        taken = {r[0] for r in rows}
        rows += [
            r
            for r in free.filter(customer__id__in_ids=customer_ids).values_list("id", "customer_id", "attempts")
            if r[0] not in taken
        ]
        row_ids = [r[0] for r in rows]
        PendingUpdate.objects.filter(id__in_ids=row_ids).update(claimed_until=now + LEASE)
    return Claim(row_ids=row_ids, customer_ids=customer_ids, attempts=max(r[2] for r in rows))


def pending_updates_done(claim: Claim) -> None:
    """The claimed work is done: delete the rows claimed, and only those."""
    PendingUpdate.objects.filter(id__in_ids=claim.row_ids).delete()


def pending_updates_failed(claim: Claim, *, error: str, now: datetime | None = None) -> None:
    """The claimed work failed: keep the rows, count the attempt, wait before the next."""
    now = now or timezone.now()
    backoff = min(FIRST_BACKOFF * 2**claim.attempts, MAX_BACKOFF)
    PendingUpdate.objects.filter(id__in_ids=claim.row_ids).update(
        attempts=F("attempts") + 1, last_error=error[:2000], claimed_until=now + backoff
    )


@dataclass(frozen=True)
class Backlog:
    customers: int
    oldest_marked_at: datetime | None
    failing: int  # customers whose work failed at least ``failing_after`` times

    def age_seconds(self, now: datetime | None = None) -> float:
        if self.oldest_marked_at is None:
            return 0.0
        return max(0.0, ((now or timezone.now()) - self.oldest_marked_at).total_seconds())


def pending_updates_backlog(*, failing_after: int = 3) -> Backlog:
    """How far behind the follow-up work is: for the health check and the admin. One query."""
    found = PendingUpdate.objects.aggregate(
        customers=Count("customer", distinct=True),
        oldest=Min("marked_at"),
        failing=Count("customer", distinct=True, filter=Q(attempts__gte=failing_after)),
    )
    return Backlog(customers=found["customers"], oldest_marked_at=found["oldest"], failing=found["failing"])
