"""Reads for the merge pages: the preview of what a merge would move (``merge_preview``,
a fixed number of queries whatever the customers hold) and what makes an undo unsafe
(``undo_blockers``, two queries)."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Expression, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from crm.merging.relations import MOVING, RELATIONS, Relation, Rule
from customers.models import Customer, CustomerMerge, Order
from loyalty.models import Account, PointsEntry
from support.models import CsatResponse, NpsResponse, Review, Ticket

# The survivor's profile fields that a merge fills from the duplicate when they are empty.
PROFILE_FIELDS = ("first_name", "last_name", "phone", "country", "birthday", "time_zone")


@dataclass(frozen=True)
class KindLine:
    kind: str
    moving: int
    kept: int  # the survivor already has one in their place: stays with the duplicate


@dataclass(frozen=True)
class PointsLine:
    group: str
    survivor: tuple[int, int]  # (available, pending) before
    duplicate: tuple[int, int]

    @property
    def after(self) -> tuple[int, int]:
        return (self.survivor[0] + self.duplicate[0], self.survivor[1] + self.duplicate[1])


@dataclass
class Preview:
    survivor: Customer
    duplicate: Customer
    lines: list[KindLine]
    points: list[PointsLine]
    tags: int
    profile: list[tuple[str, object]]  # the survivor's empty fields the duplicate fills
    refusal: str = ""  # why the merge cannot be done, if it cannot
    kept_rules: list[tuple[str, str]] = field(default_factory=list)

    @property
    def points_after(self) -> int:
        return sum(p.after[0] for p in self.points)


def _count(queryset) -> Coalesce:
    """The rows of ``queryset`` as a scalar subquery."""
    counted = queryset.order_by().annotate(one=Value(1)).values("one").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _rows(relation: Relation, customer) -> QuerySet:
    return relation.model._default_manager.filter(**{f"{relation.field}_id": customer})


def merge_preview(*, survivor_id: int, merged_id: int) -> Preview | None:
    """What merging ``merged_id`` into ``survivor_id`` would do; None if either is missing.
    Three queries: both customers with the merge log's word on them, the duplicate's rows
    per kind (moving and kept), both customers' points accounts."""
    away = CustomerMerge.objects.filter(merged_id=OuterRef("pk"), undone_at__isnull=True).values("survivor_id")[:1]
    customers = {
        c.pk: c
        for c in Customer.objects.filter(pk__in=[survivor_id, merged_id]).annotate(
            merged_into=Subquery(away, output_field=IntegerField())
        )
    }
    if survivor_id not in customers or merged_id not in customers:
        return None
    survivor, duplicate = customers[survivor_id], customers[merged_id]
    annotations: dict[str, Expression] = {}
    for i, relation in enumerate(MOVING):
        rows = _rows(relation, OuterRef("pk"))
        if relation.taken is None:
            annotations[f"m{i}"] = _count(rows)
            annotations[f"k{i}"] = Value(0)
        else:
            annotations[f"m{i}"] = _count(rows.exclude(relation.taken(survivor_id)))
            annotations[f"k{i}"] = _count(rows.filter(relation.taken(survivor_id)))
    through = Customer.tags.through
    annotations["new_tags"] = _count(
        through.objects.filter(customer_id=OuterRef("pk")).exclude(
            tag_id__in=through.objects.filter(customer_id=survivor_id).values("tag_id")
        )
    )
    counted = Customer.objects.filter(pk=merged_id).annotate(**annotations).values(*annotations).get()
    lines: dict[str, list[int]] = {}
    for i, relation in enumerate(MOVING):
        line = lines.setdefault(relation.kind, [0, 0])
        line[0] += counted[f"m{i}"]
        line[1] += counted[f"k{i}"]
    accounts: dict[int, dict] = {}
    for account in Account.objects.filter(customer_id__in=[survivor_id, merged_id]).select_related("group"):
        entry = accounts.setdefault(
            account.group_id, {"name": account.group.name, survivor_id: (0, 0), merged_id: (0, 0)}
        )
        entry[account.customer_id] = (account.balance, account.pending)
    points = [
        PointsLine(a["name"], a[survivor_id], a[merged_id])
        for _, a in sorted(accounts.items())
        if a[survivor_id] != (0, 0) or a[merged_id] != (0, 0)
    ]
    refusal = ""
    if survivor_id == merged_id:
        refusal = "A customer cannot be merged with itself."
    elif duplicate.merged_into:
        refusal = f"Customer #{merged_id} was already merged into #{duplicate.merged_into}."
    elif survivor.merged_into:
        refusal = f"Customer #{survivor_id} was merged into #{survivor.merged_into}: merge into that customer instead."
    return Preview(
        survivor=survivor,
        duplicate=duplicate,
        lines=[KindLine(kind, moving, kept) for kind, (moving, kept) in lines.items()],
        points=points,
        tags=counted["new_tags"],
        profile=[
            (f, getattr(duplicate, f)) for f in PROFILE_FIELDS if not getattr(survivor, f) and getattr(duplicate, f)
        ],
        refusal=refusal,
        kept_rules=kept_relations(),
    )


def kept_relations() -> list[tuple[str, str]]:
    """What stays with the duplicate, and why (the page says it under the preview)."""
    seen: dict[str, str] = {}
    for relation in RELATIONS:
        if relation.rule in (Rule.KEEP, Rule.POINTS) and relation.kind not in seen:
            seen[relation.kind] = relation.why
    return list(seen.items())


def undo_blockers(log: CustomerMerge) -> list[str]:
    """Why undoing this merge is no longer safe, in words; empty when it is. Three queries.

    Safe means nothing has happened since that the undo would tear apart: the merge is the
    latest for both customers, every moved row is still the survivor's and none that staff
    or shops change (orders, identities, events, tickets) changed, and the survivor has no
    new order, ticket, review, NPS or CSAT answer, and neither customer a new points entry,
    since the merge."""
    if log.undone_at is not None:
        return ["it was already undone"]
    reasons = []
    later = (
        CustomerMerge.objects.filter(pk__gt=log.pk, undone_at__isnull=True)
        .filter(Q(survivor_id__in=[log.survivor_id, log.merged_id]) | Q(merged_id__in=[log.survivor_id, log.merged_id]))
        .order_by("pk")
        .first()
    )
    if later is not None:
        reasons.append(f"a later merge (#{later.pk}) involves these customers: undo it first")
    since: datetime = log.merged_at
    annotations = {}
    for i, relation in enumerate(MOVING):
        ids = log.moved.get(relation.key, [])
        if not ids:
            continue
        rows = relation.model._default_manager.filter(pk__in=ids)
        annotations[f"gone{i}"] = _count(rows.exclude(**{f"{relation.field}_id": log.survivor_id}))
        if relation.watched:
            annotations[f"changed{i}"] = _count(rows.filter(updated_at__gt=since))
    new = {
        "new orders": Order.objects.filter(customer_id=log.survivor_id, created_at__gt=since),
        "new tickets": Ticket.objects.filter(customer_id=log.survivor_id, created_at__gt=since),
        "new reviews": Review.objects.filter(customer_id=log.survivor_id, created_at__gt=since),
        "new NPS answers": NpsResponse.objects.filter(customer_id=log.survivor_id, created_at__gt=since),
        "new CSAT answers": CsatResponse.objects.filter(customer_id=log.survivor_id, created_at__gt=since),
        # A later merge's transfers are not activity: one not undone blocks by itself, and
        # an undone one's transfers cancel out.
        "new points entries": PointsEntry.objects.filter(
            customer_id__in=[log.survivor_id, log.merged_id], created_at__gt=since
        ).exclude(source__startswith="merge:"),
    }
    for i, queryset in enumerate(new.values()):
        annotations[f"new{i}"] = _count(queryset)
    counted = Customer.objects.filter(pk=log.survivor_id).annotate(**annotations).values(*annotations).first()
    if counted is None:
        return [*reasons, "the survivor no longer exists"]
    # The points to move back must still be there (a guard: any points entry since blocks too).
    moved = {int(group): amounts for group, amounts in log.points.items()}
    short = Account.objects.filter(customer_id=log.survivor_id, group_id__in=moved).values_list("group_id", "pending")
    held = dict(short) if moved else {}
    if any(held.get(group, 0) < pending for group, (_, pending) in moved.items()):
        reasons.append("the survivor no longer holds the pending points the merge moved")
    for i, relation in enumerate(MOVING):
        if counted.get(f"gone{i}"):
            reasons.append(f"{counted[f'gone{i}']} of the moved {relation.kind} no longer belong to the survivor")
        if counted.get(f"changed{i}"):
            reasons.append(f"{counted[f'changed{i}']} of the moved {relation.kind} changed since the merge")
    for i, words in enumerate(new):
        if counted[f"new{i}"]:
            reasons.append(f"{counted[f'new{i}']} {words} since the merge")
    return reasons
