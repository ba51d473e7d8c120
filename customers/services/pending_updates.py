"""The outbox of follow-up work (``customers.models.PendingUpdate``): mark, claim, release.

- ``pending_updates_mark`` runs inside the transaction that writes the data. Marks coalesce:
  one row per customer, however many orders arrive before a drain gets to them.
- ``pending_updates_claim`` leases a batch to one drain (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, so several drains never take the same customers); a drain that dies leaves
  the lease to expire, and the batch is taken again.
- ``pending_updates_done`` removes the marks the drain claimed, except those marked again
  while it worked (their version changed): those stay for the next drain.
- ``pending_updates_failed`` counts the attempt, keeps the error for the staff, and backs
  off before the batch is tried again.
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
# drain taking a batch whose lease ran out while the first still works is harmless: each
# step is idempotent, and each drain removes only the marks it claimed.
LEASE = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
FIRST_BACKOFF = timedelta(seconds=15)


@dataclass(frozen=True)
class Claim:
    customer_ids: list[int]
    versions: list[int]
    attempts: int  # the most any of them was tried before


def pending_updates_mark(customer_ids: Sequence[int], *, now: datetime | None = None) -> None:
    """Record that these customers' figures, points and segments are behind their data.
    Call inside the transaction that wrote the data.

    One statement. A customer already marked and not claimed by a drain is left as it is
    (no write: the mark stands); one that a drain has claimed gets a new version, so the
    drain keeps it for another round. ``ON CONFLICT DO UPDATE`` locks the existing row even
    where its ``WHERE`` leaves it unchanged, so a drain cannot claim a row (``SKIP LOCKED``)
    while a transaction that marked it is still open."""
    ids = sorted(set(customer_ids))  # one lock order, so two marking requests cannot deadlock
    if not ids:
        return
    table = connection.ops.quote_name(PendingUpdate._meta.db_table)
    if connection.vendor == "postgresql":
        select, param = "SELECT id, %s, (random() * 9e18)::bigint, NULL, 0, '' FROM unnest(%s::bigint[]) AS m(id)", ids
    else:  # "WHERE true" tells SQLite's parser that ON CONFLICT is not a join clause
        select, param = "SELECT value, %s, random(), NULL, 0, '' FROM json_each(%s) WHERE true", json.dumps(ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (customer_id, marked_at, version, claimed_until, attempts, last_error) "
            f"{select} ON CONFLICT (customer_id) DO UPDATE SET version = EXCLUDED.version "
            f"WHERE {table}.claimed_until IS NOT NULL",
            [now or timezone.now(), param],
        )


def pending_updates_claim(*, limit: int, now: datetime | None = None) -> Claim | None:
    """Lease up to ``limit`` customers not leased to another drain, oldest marks first."""
    now = now or timezone.now()
    with transaction.atomic():
        free = PendingUpdate.objects.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)).order_by(
            "marked_at"
        )
        if connection.features.has_select_for_update_skip_locked:
            free = free.select_for_update(skip_locked=True)
        rows = list(free.values_list("customer_id", "version", "attempts")[:limit])
        if not rows:
            return None
        ids = [r[0] for r in rows]
        PendingUpdate.objects.filter(customer_id__in=ids).update(claimed_until=now + LEASE)
    return Claim(customer_ids=ids, versions=[r[1] for r in rows], attempts=max(r[2] for r in rows))


def pending_updates_done(claim: Claim) -> None:
    """The claimed work is done: remove the marks that were not renewed meanwhile and free
    the others for the next drain."""
    with transaction.atomic():
        # The versions are random 62-bit numbers, so matching the two lists apart is exact
        # in practice, and one statement on both databases.
        PendingUpdate.objects.filter(customer_id__in=claim.customer_ids, version__in=claim.versions).delete()
        PendingUpdate.objects.filter(customer_id__in=claim.customer_ids).update(claimed_until=None)


def pending_updates_failed(claim: Claim, *, error: str, now: datetime | None = None) -> None:
    """The claimed work failed: keep the marks, count the attempt, wait before the next."""
    now = now or timezone.now()
    backoff = min(FIRST_BACKOFF * 2**claim.attempts, MAX_BACKOFF)
    PendingUpdate.objects.filter(customer_id__in=claim.customer_ids).update(
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
        customers=Count("pk"), oldest=Min("marked_at"), failing=Count("pk", filter=Q(attempts__gte=failing_after))
    )
    return Backlog(customers=found["customers"], oldest_marked_at=found["oldest"], failing=found["failing"])
