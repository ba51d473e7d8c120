"""Points that expire, and reward codes that expired unused; set-based over a range of
customer ids, in the nightly pass.

Two expiry modes (``Programme.expiry_mode``):

- **inactivity**: all of a customer's points expire N months after their last order (or,
  for a customer who never ordered, after they were first seen; never before the programme
  started);
- **first in, first out**: each batch of points expires at the end of the month N months
  after it became available. Spending uses the oldest points first, so what expires is what
  was credited before the cut-off less everything ever spent or expired:
  ``max(0, credits before the cut-off - debits)``. Expiring by whole months keeps the
  warnings to one a month per customer instead of one a night.

Before points expire (``expiry_warning_days``) a ``points_expiring`` event is recorded
for the customer, once per expiry date, so a segment ("did points_expiring in the last 7
days") and its campaign can reach them.

Finding who expires reads without locks; those few accounts are then locked and their
figures read again under the lock, so a redemption at the same moment never sees its points
expire twice.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import DateTimeField, F, Min, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from customers.models import CustomerIdentity, Event
from loyalty.earning import among
from loyalty.ledger import Entry, accounts_lock, entries_post
from loyalty.models import Account, EntryKind, ExpiryMode, PointsEntry, Programme, RewardCode
from loyalty.programme import programme_get

WARNING_EVENT = "points_expiring"


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier), on the month's last day when it is shorter."""
    return day + relativedelta(months=months)


def midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass(frozen=True)
class Expiring:
    customer_id: int
    points: int
    expires_on: date
    reason: str = ""


def codes_expire_range(first_id: int, last_id: int, *, now: datetime | None = None) -> int:
    """Codes of these customers past their date and unused become expired; if the programme
    says so, their points come back (one ``refund`` entry per code). Returns codes expired."""
    now = now or timezone.now()
    programme = programme_get()
    with transaction.atomic():
        codes = list(
            RewardCode.objects.select_for_update()
            .filter(
                customer_id__gte=first_id,
                customer_id__lte=last_id,
                status=RewardCode.Status.ISSUED,
                expires_at__lte=now,
            )
            .values_list("id", "customer_id", "points_spent", "code")
        )
        if not codes:
            return 0
        RewardCode.objects.filter(pk__in=[c[0] for c in codes]).update(status=RewardCode.Status.EXPIRED)
        if programme.refund_expired_codes:
            accounts_lock(c[1] for c in codes)
            entries_post(
                [
                    Entry(
                        customer_id=customer_id,
                        kind=EntryKind.REFUND,
                        key=f"code:{code_id}:refund",
                        source=f"code:{code_id}",
                        available=points,
                        reason=f"code {code} expired unused",
                    )
                    for code_id, customer_id, points, code in codes
                ]
            )
        return len(codes)


def points_expire_range(first_id: int, last_id: int, *, now: datetime | None = None) -> tuple[int, int]:
    """Expire what is due among these customers and warn those whose points expire soon;
    returns (customers whose points expired, warnings recorded)."""
    programme = programme_get()
    if programme.expiry_mode == ExpiryMode.NEVER or not programme.is_active:
        return 0, 0
    now = now or timezone.now()
    finder = _by_inactivity if programme.expiry_mode == ExpiryMode.INACTIVITY else _by_age
    customers = Q(customer_id__gte=first_id, customer_id__lte=last_id)
    due, soon = finder(programme, customers, now)
    expired = 0
    if due:
        with transaction.atomic():
            locked = accounts_lock(e.customer_id for e in due)
            # Again under the lock: a redemption may have spent some of the points since.
            due, _ = finder(programme, Q(customer_id__in=locked), now)
            today = timezone.localdate(now).isoformat()
            expired = len(
                entries_post(
                    [
                        Entry(
                            customer_id=e.customer_id,
                            kind=EntryKind.EXPIRE,
                            key=f"expire:{e.customer_id}:{today}",
                            source="expiry",
                            available=-e.points,
                            reason=e.reason,
                        )
                        for e in due
                    ]
                )
            )
    return expired, _warn(soon, customers, now, programme.expiry_warning_days)


def _by_inactivity(programme: Programme, customers: Q, now: datetime) -> tuple[list[Expiring], list[Expiring]]:
    """Everything expires N months after the last order (the reference)."""
    today = timezone.localdate(now)
    months = programme.expiry_months
    # Expired: the reference falls on or before this day N months ago; soon: within the warning.
    cutoff = midnight(add_months(today, -months) + timedelta(days=1))
    warn_day = today + timedelta(days=programme.expiry_warning_days)
    warn_cutoff = midnight(add_months(warn_day, -months) + timedelta(days=1))
    reference = Greatest(
        Coalesce("customer__last_order_at", "customer__created_at"),
        Value(programme.starts_at, output_field=DateTimeField()),
    )
    rows = (
        Account.objects.filter(customers, balance__gt=0)
        .annotate(reference=reference)
        .filter(reference__lt=warn_cutoff)
        .values_list("customer_id", "balance", "reference")
    )
    due, soon = [], []
    for customer_id, balance, ref in rows:
        expires_on = add_months(timezone.localdate(ref), months)
        if ref < cutoff:
            due.append(Expiring(customer_id, balance, expires_on, f"no order since {timezone.localdate(ref)}"))
        else:
            soon.append(Expiring(customer_id, balance, expires_on))
    return due, soon


def _by_age(programme: Programme, customers: Q, now: datetime) -> tuple[list[Expiring], list[Expiring]]:
    """Points credited in a month expire when the month N+1 months later begins."""
    today = timezone.localdate(now)
    months = programme.expiry_months
    this_month = today.replace(day=1)
    next_month = add_months(this_month, 1)
    cutoff = midnight(add_months(this_month, -months))
    warn = today >= next_month - timedelta(days=programme.expiry_warning_days)
    next_cutoff = midnight(add_months(next_month, -months))
    rows = (
        PointsEntry.objects.filter(customers, customer__loyalty__balance__gt=0)
        .values("customer_id")
        .annotate(
            old=Coalesce(Sum("available", filter=Q(available__gt=0, created_at__lt=cutoff)), 0),
            soon=Coalesce(Sum("available", filter=Q(available__gt=0, created_at__lt=next_cutoff)), 0),
            spent=Coalesce(Sum(-F("available"), filter=Q(available__lt=0)), 0),
        )
        .filter(Q(old__gt=F("spent")) | Q(soon__gt=F("spent")) if warn else Q(old__gt=F("spent")))
        .order_by()
    )
    due, soon = [], []
    for r in rows:
        expiring_now = max(0, r["old"] - r["spent"])
        if expiring_now:
            due.append(
                Expiring(
                    r["customer_id"], expiring_now, today, f"credited before {cutoff.date()} and not spent by then"
                )
            )
        expiring_next = max(0, r["soon"] - r["spent"]) - expiring_now
        if warn and expiring_next > 0:
            soon.append(Expiring(r["customer_id"], expiring_next, next_month))
    return due, soon


def _warn(soon: list[Expiring], customers: Q, now: datetime, warning_days: int) -> int:
    """A ``points_expiring`` event per customer and expiry date, in the customer's first shop
    (or any shop they are known in); returns the events recorded (a re-run records none)."""
    if not soon:
        return 0
    any_shop = Subquery(
        CustomerIdentity.objects.filter(customer_id=OuterRef("customer_id"))
        .values("customer_id")
        .annotate(shop=Min("shop_id"))
        .values("shop")
    )
    shops = dict(
        Account.objects.filter(among([s.customer_id for s in soon]))
        .annotate(shop=Coalesce("customer__first_seen_shop_id", any_shop))
        .values_list("customer_id", "shop")
    )
    since = now - timedelta(days=warning_days + 1)
    recorded = set(
        Event.objects.filter(customers, type=WARNING_EVENT, occurred_at__gte=since).values_list(
            "external_id", flat=True
        )
    )
    events = []
    for s in soon:
        external_id = f"loyalty:{WARNING_EVENT}:{s.customer_id}:{s.expires_on.isoformat()}"
        if external_id in recorded or not shops.get(s.customer_id):
            continue
        events.append(
            Event(
                shop_id=shops[s.customer_id],
                customer_id=s.customer_id,
                type=WARNING_EVENT,
                payload={"points": s.points, "expires_on": s.expires_on.isoformat()},
                occurred_at=now,
                external_id=external_id,
            )
        )
    Event.objects.bulk_create(events, ignore_conflicts=True, batch_size=1000)
    return len(events)
