"""Merging a duplicate customer into the one that stays, and undoing it (docs/merge.md).

``customers_merge`` runs in one transaction: both customers locked (``SELECT … FOR
UPDATE``, in id order), then one set-based UPDATE per relation (``relations.RELATIONS``),
the points by ledger transfers, the survivor's empty profile fields filled from the
duplicate, the log written with the ids of every row that moved; then the figures of both
are recomputed through the apps' own services (lifecycle and aggregates, order points,
loyalty tiers, consent, segments). ``customers_merge_undo`` moves exactly the logged rows
back, while ``selectors.undo_blockers`` finds nothing that makes it unsafe.
"""

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from campaigns.services import segments_refresh_customers
from core.errors import DomainError
from crm.merging.relations import MOVING, Relation
from crm.merging.selectors import PROFILE_FIELDS, undo_blockers
from customers.models import Customer, CustomerMerge
from customers.services.consent import merged_consent_follow
from customers.services.recompute import customers_recompute
from loyalty.earning import orders_award
from loyalty.tiers import tiers_evaluate_range
from loyalty.transfers import Moved, points_merge, points_unmerge


def customers_merge(*, survivor_id: int, merged_id: int, user=None) -> CustomerMerge:
    """Merge customer ``merged_id`` (the duplicate) into ``survivor_id``; returns the log.

    Refused (``DomainError`` on ``merged``) for a customer with itself, a customer already
    merged away, or a survivor that was itself merged into someone."""
    if survivor_id == merged_id:
        raise DomainError("A customer cannot be merged with itself: pick the duplicate.", field="merged")
    with transaction.atomic():
        # Locked in id order, as undo locks them: two merges of one pair queue, never deadlock.
        both = Customer.objects.select_for_update().filter(pk__in=[survivor_id, merged_id]).order_by("pk")
        locked = {c.pk: c for c in both}
        if survivor_id not in locked:
            raise DomainError(f"No customer #{survivor_id}.", field="survivor")
        if merged_id not in locked:
            raise DomainError(f"No customer #{merged_id}.", field="merged")
        _refuse_merged_away(survivor_id, merged_id)
        survivor, duplicate = locked[survivor_id], locked[merged_id]
        # Points due now (a maturation, a give-back) are settled on the account they belong
        # to before the balances move, so the transfer moves the settled figures.
        orders_award([survivor_id, merged_id])
        log = CustomerMerge.objects.create(
            survivor_id=survivor_id, merged_id=merged_id, merged_by=user, merged_at=timezone.now()
        )
        moved: dict[str, list[int]] = {}
        counts: dict[str, dict[str, int]] = {}
        for relation in MOVING:
            ids, kept = _move(relation, from_id=merged_id, to_id=survivor_id)
            moved[relation.key] = ids
            counts[relation.key] = {"moved": len(ids), "kept": kept}
        moved["customers.Customer_tags"] = _tags_add(survivor, duplicate)
        points = points_merge(
            source_id=merged_id,
            target_id=survivor_id,
            key=f"merge:{log.pk}",
            reason=f"customer #{merged_id} merged into #{survivor_id}",
        )
        log.moved = moved
        log.counts = counts
        log.points = points.as_json()
        log.profile = _profile_fill(survivor, duplicate)
        # The cut-off of "new activity" for undo: after the moves and transfers. Points the
        # recompute below writes count as activity (normally none: settled above).
        log.merged_at = timezone.now()
        log.save(update_fields=["moved", "counts", "points", "profile", "merged_at"])
        _follow(survivor_id, merged_id)
        return log


def customers_merge_undo(*, merge_id: int, user=None) -> CustomerMerge:
    """Move the rows a merge moved back to the duplicate, and its points; refused
    (``DomainError``) with the reasons when that is no longer safe (``undo_blockers``)."""
    with transaction.atomic():
        log = CustomerMerge.objects.select_for_update().filter(pk=merge_id).first()
        if log is None:
            raise DomainError(f"No merge #{merge_id}.", field="merge")
        list(Customer.objects.select_for_update().filter(pk__in=[log.survivor_id, log.merged_id]).order_by("pk"))
        blockers = undo_blockers(log)
        if blockers:
            raise DomainError("This merge cannot be undone: " + "; ".join(blockers) + ".", field="merge")
        for relation in MOVING:
            ids = log.moved.get(relation.key, [])
            if ids:
                _move_back(relation, ids, from_id=log.survivor_id, to_id=log.merged_id)
        tags = log.moved.get("customers.Customer_tags", [])
        if tags:
            Customer.tags.through.objects.filter(customer_id=log.survivor_id, tag_id__in=tags).delete()
        if log.profile:
            # Only the fields still as the merge filled them go back to empty.
            survivor = Customer.objects.get(pk=log.survivor_id)
            duplicate = Customer.objects.get(pk=log.merged_id)
            cleared = [f for f in log.profile if getattr(survivor, f) == getattr(duplicate, f)]
            for field in cleared:
                setattr(survivor, field, None if field == "birthday" else "")
            if cleared:
                survivor.save(update_fields=[*cleared, "updated_at"])
        points_unmerge(
            source_id=log.merged_id,
            target_id=log.survivor_id,
            moved=Moved.from_json(log.points),
            key=f"merge:{log.pk}",
            reason=f"merge of customer #{log.merged_id} into #{log.survivor_id} undone",
        )
        log.undone_at = timezone.now()
        log.undone_by = user
        log.save(update_fields=["undone_at", "undone_by"])
        _follow(log.survivor_id, log.merged_id)
        return log


def _refuse_merged_away(survivor_id: int, merged_id: int) -> None:
    away = dict(
        CustomerMerge.objects.filter(merged_id__in=[survivor_id, merged_id], undone_at__isnull=True).values_list(
            "merged_id", "survivor_id"
        )
    )
    if merged_id in away:
        raise DomainError(
            f"Customer #{merged_id} was already merged into #{away[merged_id]}.",
            field="merged",
        )
    if survivor_id in away:
        raise DomainError(
            f"Customer #{survivor_id} was merged into #{away[survivor_id]}: merge into that customer instead.",
            field="survivor",
        )


def _rows(relation: Relation, customer_id: int) -> QuerySet:
    return relation.model._default_manager.filter(**{f"{relation.field}_id": customer_id})


def _move(relation: Relation, *, from_id: int, to_id: int) -> tuple[list[int], int]:
    """Move the relation's rows from one customer to the other, but those the other already
    has in their place; returns (ids moved, rows kept)."""
    rows = _rows(relation, from_id)
    kept = 0
    if relation.taken is not None:
        kept = rows.filter(relation.taken(to_id)).count()
        rows = rows.exclude(relation.taken(to_id))
    ids = list(rows.order_by("pk").values_list("pk", flat=True))
    if ids:
        relation.model._default_manager.filter(pk__in=ids).update(**{f"{relation.field}_id": to_id})
    return ids, kept


def _move_back(relation: Relation, ids: list[int], *, from_id: int, to_id: int) -> None:
    """Undo's move: the logged rows still on ``from_id`` go back, but any that the other
    customer has meanwhile taken the place of (a new open stay in the same segment)."""
    rows = relation.model._default_manager.filter(pk__in=ids, **{f"{relation.field}_id": from_id})
    if relation.taken is not None:
        rows = rows.exclude(relation.taken(to_id))
    rows.update(**{f"{relation.field}_id": to_id})


def _tags_add(survivor: Customer, duplicate: Customer) -> list[int]:
    """The staff's tags: the survivor gets the duplicate's it lacks; returns those tag ids."""
    through = Customer.tags.through
    have = through.objects.filter(customer_id=survivor.pk).values("tag_id")
    tag_ids = list(
        through.objects.filter(customer_id=duplicate.pk).exclude(tag_id__in=have).values_list("tag_id", flat=True)
    )
    through.objects.bulk_create([through(customer_id=survivor.pk, tag_id=t) for t in tag_ids])
    return sorted(tag_ids)


def _profile_fill(survivor: Customer, duplicate: Customer) -> list[str]:
    """The survivor's empty profile fields take the duplicate's values; returns their names."""
    filled = [f for f in PROFILE_FIELDS if not getattr(survivor, f) and getattr(duplicate, f)]
    for field in filled:
        setattr(survivor, field, getattr(duplicate, field))
    if filled:
        survivor.save(update_fields=[*filled, "updated_at"])
    return filled


def _follow(*ids: int) -> None:
    """Both customers' figures, from their data as it now is: lifecycle and aggregates,
    order points, tiers, merged consent, segment memberships."""
    customer_ids = sorted(ids)
    customers_recompute(customer_ids=customer_ids)
    orders_award(customer_ids)
    for customer_id in customer_ids:
        tiers_evaluate_range(customer_id, customer_id)
    merged_consent_follow(set(customer_ids), timezone.now())
    segments_refresh_customers(customer_ids=customer_ids)
