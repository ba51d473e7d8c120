"""Points that expire, and reward codes that expired unused; set-based over a range of
customer ids, in the nightly pass.

Each account (a customer's points in one shop group) expires on its own. Two expiry modes
(``Programme.expiry_mode``):

- **inactivity**: all of an account's points expire N months after the customer's last order
  in that group's shops (or, for a customer who never ordered there, after they were first
  seen; never before the programme started);
- **first in, first out**: each batch of points expires at the end of the month N months
  after it became available. Spending uses the oldest points first, so what expires is what
  was credited before the cut-off less everything ever spent or expired:
  ``max(0, credits before the cut-off - debits)``. Expiring by whole months keeps the
  warnings to one a month per customer instead of one a night.

Before points expire (``expiry_warning_days``) a ``points_expiring`` event is recorded
for the customer, once per expiry date, so a segment ("did points_expiring in the last 7
days") and its campaign can reach them.

Finding who expires reads without locks; those accounts are then locked and their figures
read again under the lock, so a redemption at the same moment never sees its points expire
twice. Each mode is one query (``ByAge.rows``, ``ByInactivity.rows``) that both reads use;
on PostgreSQL the second is the SELECT of the expiry entries' insert.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, Greatest, TruncDate
from django.utils import timezone

from core.chunks import among
from core.days import start_of
from customers.models import CustomerIdentity, Event, Order
from loyalty.ledger import Entry, accounts_lock, entries_insert_select, entries_post
from loyalty.models import Account, EntryKind, ExpiryMode, PointsEntry, Programme, RewardCode
from loyalty.programme import programme_get

WARNING_EVENT = "points_expiring"


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (or earlier), on the month's last day when it is shorter."""
    return day + relativedelta(months=months)


@dataclass(frozen=True)
class Expiring:
    customer_id: int
    group_id: int
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
            .values_list("id", "customer_id", "shop__group_id", "points_spent", "code")
        )
        if not codes:
            return 0
        RewardCode.objects.filter(pk__in=[c[0] for c in codes]).update(status=RewardCode.Status.EXPIRED)
        if programme.refund_expired_codes:
            # Back to the account of the code's shop's group: the one it was spent from.
            accounts_lock([], pairs=[(c[1], c[2]) for c in codes])
            entries_post(
                [
                    Entry(
                        customer_id=customer_id,
                        group_id=group_id,
                        kind=EntryKind.REFUND,
                        key=f"code:{code_id}:refund",
                        source=f"code:{code_id}",
                        available=points,
                        reason=f"code {code} expired unused",
                    )
                    for code_id, customer_id, group_id, points, code in codes
                ]
            )
        return len(codes)


def points_expire_range(first_id: int, last_id: int, *, now: datetime | None = None) -> tuple[int, int]:
    """Expire what is due among these customers' accounts and warn those whose points expire
    soon; returns (accounts whose points expired, warnings recorded)."""
    programme = programme_get()
    if programme.expiry_mode == ExpiryMode.NEVER or not programme.is_active:
        return 0, 0
    now = now or timezone.now()
    mode = (ByInactivity if programme.expiry_mode == ExpiryMode.INACTIVITY else ByAge)(programme, now)
    in_range = Q(customer_id__gte=first_id, customer_id__lte=last_id)
    due, soon = [], []
    for row in mode.rows(in_range):
        if row["due"] > 0:
            due.append(row["customer_id"])
        if warning := mode.warning(row):
            soon.append(warning)
    expired = _expire(mode, due, in_range, now) if due else 0
    return expired, _warn(soon, in_range, now, programme.expiry_warning_days)


def _expire(mode: "ByAge | ByInactivity", due: list[int], in_range: Q, now: datetime) -> int:
    """Expire these customers' due points, read again under their lock: a redemption may
    have spent some since. On PostgreSQL the entries are one ``INSERT … SELECT`` of the
    mode's own query; elsewhere they are built here."""
    key_suffix = f":{timezone.localdate(now).isoformat()}"  # the key: expire:<customer>:group:<group>:<day>
    with transaction.atomic():
        locked = accounts_lock(due)
        if connection.vendor == "postgresql":
            rows = mode.rows(among(locked, column=mode.customer_column)).filter(due__gt=0)
            sql, params = rows.query.sql_with_params()
            select = (
                "SELECT customer_id, group_id, 'expire' AS kind, -due AS available, 0 AS pending, "
                "'expire:' || customer_id || ':group:' || group_id || %s::text AS key, 'expiry' AS source, "
                "NULL::bigint AS rule_id, "
                "NULL::bigint AS order_id, NULL::numeric AS basis, NULL::timestamptz AS matures_at, reason "
                f"FROM ({sql}) AS due"
            )
            return entries_insert_select(select, [key_suffix, *params], now=now)[0]
        locked_ids = set(locked)
        entries = [
            Entry(
                customer_id=row["customer_id"],
                group_id=row["group_id"],
                kind=EntryKind.EXPIRE,
                key=f"expire:{row['customer_id']}:group:{row['group_id']}{key_suffix}",
                source="expiry",
                available=-row["due"],
                reason=row["reason"],
            )
            for row in mode.rows(in_range)
            if row["due"] > 0 and row["customer_id"] in locked_ids
        ]
        return len(entries_post(entries))


class ByInactivity:
    """Everything in an account expires N months after the last order in its group (the reference)."""

    customer_column = '"loyalty_account"."customer_id"'

    def __init__(self, programme: Programme, now: datetime):
        today = timezone.localdate(now)
        self.months = programme.expiry_months
        self.starts_at = programme.starts_at
        # Expired: the reference falls on or before this day N months ago; soon: within the warning.
        self.cutoff = start_of(add_months(today, -self.months) + timedelta(days=1))
        warn_day = today + timedelta(days=programme.expiry_warning_days)
        self.warn_cutoff = start_of(add_months(warn_day, -self.months) + timedelta(days=1))

    def rows(self, customers) -> QuerySet:
        """Per account with points whose reference is before the warning's cut-off: the
        points ``due`` now (all of them, or 0 if only soon), the ``reason``, and the reference."""
        last_order_here = Subquery(
            Order.objects.filter(customer_id=OuterRef("customer_id"), shop__group_id=OuterRef("group_id"))
            .order_by("-placed_at")
            .values("placed_at")[:1]
        )
        reference = Greatest(
            Coalesce(last_order_here, "customer__created_at"),
            Value(self.starts_at, output_field=DateTimeField()),
        )
        return (
            Account.objects.filter(customers, balance__gt=0)
            .annotate(reference=reference)
            .filter(reference__lt=self.warn_cutoff)
            .annotate(
                due=Case(When(reference__lt=self.cutoff, then=F("balance")), default=Value(0)),
                reason=Concat(Value("no order since "), Cast(TruncDate("reference"), CharField())),
            )
            .values("customer_id", "group_id", "due", "reason", "reference", "balance")
            .order_by()
        )

    def warning(self, row) -> Expiring | None:
        if row["due"] > 0:  # all of them expire now
            return None
        expires_on = add_months(timezone.localdate(row["reference"]), self.months)
        return Expiring(row["customer_id"], row["group_id"], row["balance"], expires_on)


class ByAge:
    """Points credited in a month expire when the month N+1 months later begins."""

    customer_column = "customer_id"

    def __init__(self, programme: Programme, now: datetime):
        today = timezone.localdate(now)
        months = programme.expiry_months
        this_month = today.replace(day=1)
        self.next_month = add_months(this_month, 1)
        self.cutoff = start_of(add_months(this_month, -months))
        self.warn = today >= self.next_month - timedelta(days=programme.expiry_warning_days)
        self.next_cutoff = start_of(add_months(self.next_month, -months))

    def rows(self, customers) -> QuerySet:
        """Per customer with points: the points ``due`` now (credited before the cut-off less
        everything spent or expired), the ``reason``; and the figures for the warning."""
        rows = (
            # No condition on the balance: what is due never exceeds it (credits before the
            # cut-off less all debits, against all credits less all debits), and a join to
            # the accounts for each entry cost more than the customers it would skip.
            PointsEntry.objects.filter(customers)
            .values("customer_id", "group_id")
            .annotate(
                old=Coalesce(Sum("available", filter=Q(available__gt=0, created_at__lt=self.cutoff)), 0),
                soon=Coalesce(Sum("available", filter=Q(available__gt=0, created_at__lt=self.next_cutoff)), 0),
                spent=Coalesce(Sum(-F("available"), filter=Q(available__lt=0)), 0),
            )
            .filter(Q(old__gt=F("spent")) | Q(soon__gt=F("spent")) if self.warn else Q(old__gt=F("spent")))
        )
        reason = f"credited before {self.cutoff.date()} and not spent by then"
        return (
            rows.annotate(due=Greatest(F("old") - F("spent"), Value(0)), reason=Value(reason))
            .values("customer_id", "group_id", "due", "reason", "soon", "spent")
            .order_by()
        )

    def warning(self, row) -> Expiring | None:
        expiring_next = max(0, row["soon"] - row["spent"]) - row["due"]
        if self.warn and expiring_next > 0:
            return Expiring(row["customer_id"], row["group_id"], expiring_next, self.next_month)
        return None


def _warn(soon: list[Expiring], customers: Q, now: datetime, warning_days: int) -> int:
    """A ``points_expiring`` event per account and expiry date, in a shop of the account's
    group: the customer's first shop if it is one, else the first of the group's shops they
    are known in; returns the events recorded (a re-run records none)."""
    if not soon:
        return 0
    in_group = Subquery(
        CustomerIdentity.objects.filter(customer_id=OuterRef("customer_id"), shop__group_id=OuterRef("group_id"))
        .values("customer_id")
        .annotate(shop=Min("shop_id"))
        .values("shop")
    )
    first_shop_here = Case(
        When(customer__first_seen_shop__group_id=F("group_id"), then=F("customer__first_seen_shop_id")),
        default=None,
    )
    shops = {
        (cid, gid): shop
        for cid, gid, shop in Account.objects.filter(among([s.customer_id for s in soon]))
        .annotate(shop=Coalesce(first_shop_here, in_group))
        .values_list("customer_id", "group_id", "shop")
    }
    since = now - timedelta(days=warning_days + 1)
    recorded = set(
        Event.objects.filter(customers, type=WARNING_EVENT, occurred_at__gte=since).values_list(
            "external_id", flat=True
        )
    )
    events = []
    for s in soon:
        external_id = f"loyalty:{WARNING_EVENT}:{s.customer_id}:{s.group_id}:{s.expires_on.isoformat()}"
        shop = shops.get((s.customer_id, s.group_id))
        if external_id in recorded or not shop:
            continue
        events.append(
            Event(
                shop_id=shop,
                customer_id=s.customer_id,
                type=WARNING_EVENT,
                payload={"points": s.points, "expires_on": s.expires_on.isoformat()},
                occurred_at=now,
                external_id=external_id,
            )
        )
    Event.objects.bulk_create(events, ignore_conflicts=True, batch_size=1000)
    return len(events)
