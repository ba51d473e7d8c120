"""Merging duplicate customers, across every app: what moves, what stays, points through the
ledger with the balance kept, figures recomputed, and undo while it is safe (docs/merge.md)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import FlowRun, SegmentMembership, Send, Touchpoint
from core.errors import DomainError
from crm.merging.relations import RELATIONS
from crm.merging.selectors import merge_preview, undo_blockers
from crm.merging.services import customers_merge, customers_merge_undo
from crm.models import CustomerNote
from crm.tests.api_ids import api_id
from crm.tests.merge_data import two_records
from customers.models import (
    ConsentEvent,
    Customer,
    CustomerIdentity,
    CustomerMerge,
    CustomerSignal,
    Event,
    Order,
    ShopTag,
)
from customers.services.api_keys import api_key_create
from customers.tests.factories import OrderFactory, RefundFactory
from loyalty.earning import orders_award, points_mature
from loyalty.models import Account, PointsEntry
from loyalty.tests.conftest import programme  # noqa: F401 (a fixture shared with loyalty)
from loyalty.verify import balances_verify
from messaging.models import Message
from support.models import CsatResponse, NpsResponse, Review, Ticket

pytestmark = pytest.mark.django_db


def test_every_foreign_key_to_a_customer_is_handled_by_the_merge():
    """A new model pointing at customers must say what a merge does with its rows."""
    found = set()
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is Customer:
                label = model._meta.label
                found.add(label if field.name == "customer" else f"{label}.{field.name}")
    assert found == {r.key for r in RELATIONS}


def points_of(customer) -> tuple[int, int]:
    accounts = Account.objects.filter(customer=customer)
    return sum(a.balance for a in accounts), sum(a.pending for a in accounts)


def test_a_merge_moves_every_apps_rows_and_keeps_the_points(programme):  # noqa: F811
    pair = two_records()
    survivor, duplicate = pair.survivor, pair.duplicate
    # 100 + 50 welcome (US); 200 + 50 welcome available, 60 pending (EU).
    assert sum(points_of(survivor)) == 150
    before = [points_of(survivor), points_of(duplicate)]
    total_before = sum(a + p for a, p in before)

    log = customers_merge(survivor_id=survivor.pk, merged_id=duplicate.pk)

    def on(model, customer, field="customer"):
        return model.objects.filter(**{field: customer}).count()

    for model, expected in [
        (CustomerIdentity, 2),
        (Order, 3),
        (Event, 1),
        (ConsentEvent, 1),
        (CustomerSignal, 1),
        (Ticket, 1),
        (Review, 1),
        (NpsResponse, 1),
        (CsatResponse, 1),
        (FlowRun, 1),
        (Send, 1),
        (Touchpoint, 1),
        (Message, 1),
        (CustomerNote, 1),
    ]:
        assert on(model, survivor) == expected, model
        assert on(model, duplicate) == 0, model
    # Unique per (customer, shop, tag): the survivor's own "newsletter" stays; "vip" moves.
    assert sorted(ShopTag.objects.filter(customer=survivor).values_list("tag__name", flat=True)) == [
        "newsletter",
        "vip",
    ]
    assert list(ShopTag.objects.filter(customer=duplicate).values_list("tag__name", flat=True)) == ["newsletter"]
    assert sorted(survivor.tags.values_list("name", flat=True)) == ["newsletter", "vip"]
    # One open stay per segment: "Europe" moves, "Everyone" (both were in) stays behind.
    assert SegmentMembership.objects.filter(customer=survivor, segment=pair.segment).exists()
    assert log.counts["campaigns.SegmentMembership"] == {"moved": 1, "kept": 1}

    # Points: all on the survivor, the person's total kept, the ledger agrees with the cache.
    assert points_of(duplicate) == (0, 0)
    assert sum(points_of(survivor)) == total_before
    assert points_of(survivor) == (before[0][0] + before[1][0], before[0][1] + before[1][1])
    assert balances_verify()[1] == []
    transfers = PointsEntry.objects.filter(source=f"merge:{log.pk}", kind="transfer").exclude(available=0, pending=0)
    assert transfers.count() == 2  # out of the duplicate's EU account, into the survivor's

    # Figures recomputed; the survivor's empty phone filled from the duplicate.
    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert survivor.orders_count == 3 and survivor.net_revenue == Decimal("360.00")
    assert duplicate.orders_count == 0
    assert survivor.phone == "+1 555 0100" and log.profile == ["phone", "country"]
    assert sorted(log.moved["customers.Order"]) == sorted(o.pk for o in pair.orders[1:])


def test_the_moved_pending_points_mature_into_the_survivor_and_a_refund_gives_back_there(programme):  # noqa: F811
    pair = two_records()
    survivor, duplicate = pair.survivor, pair.duplicate
    customers_merge(survivor_id=survivor.pk, merged_id=duplicate.pk)
    available, pending = points_of(survivor)
    assert pending == 60

    points_mature(now=timezone.now() + timedelta(days=15))
    assert points_of(survivor) == (available + 60, 0)
    assert points_of(duplicate) == (0, 0)

    # A full refund of a moved order, after its window: its 200 points and its welcome bonus
    # (the order no longer counts as paid) reversed from the survivor's account.
    order = pair.orders[1]
    RefundFactory(order=order, amount=order.total, amount_base=order.total_base)
    orders_award([survivor.pk], now=timezone.now() + timedelta(days=15))
    assert points_of(survivor)[0] == available + 60 - 200 - 50
    assert balances_verify()[1] == []


def test_the_moved_first_order_earns_no_second_welcome_bonus(programme):  # noqa: F811
    pair = two_records()
    survivor, duplicate = pair.survivor, pair.duplicate
    customers_merge(survivor_id=survivor.pk, merged_id=duplicate.pk)
    total = sum(points_of(survivor))
    # A new order in the EU shop: its own points, no welcome bonus (the duplicate had it there).
    OrderFactory(customer=survivor, shop=pair.eu, total=Decimal("10.00"), placed_at=timezone.now())
    orders_award([survivor.pk])
    assert sum(points_of(survivor)) == total + 10


def test_undo_moves_exactly_those_rows_and_points_back(programme):  # noqa: F811
    pair = two_records()
    survivor, duplicate = pair.survivor, pair.duplicate
    before = points_of(survivor), points_of(duplicate)
    log = customers_merge(survivor_id=survivor.pk, merged_id=duplicate.pk)
    assert undo_blockers(log) == []

    customers_merge_undo(merge_id=log.pk)

    assert Order.objects.filter(customer=survivor).count() == 1
    assert Order.objects.filter(customer=duplicate).count() == 2
    assert CustomerIdentity.objects.filter(customer=duplicate).count() == 1
    assert Ticket.objects.filter(customer=duplicate).count() == 1
    assert ShopTag.objects.filter(customer=duplicate).count() == 2
    assert list(survivor.tags.values_list("name", flat=True)) == ["newsletter"]
    assert (points_of(survivor), points_of(duplicate)) == before
    assert balances_verify()[1] == []
    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert survivor.phone == "" and survivor.orders_count == 1 and duplicate.orders_count == 2
    log.refresh_from_db()
    assert log.undone_at is not None
    # Undone: the two may be merged again.
    customers_merge(survivor_id=survivor.pk, merged_id=duplicate.pk)


def test_undo_is_refused_once_new_activity_makes_it_unsafe(programme):  # noqa: F811
    pair = two_records()
    log = customers_merge(survivor_id=pair.survivor.pk, merged_id=pair.duplicate.pk)
    # An agent changed a moved order (its status) after the merge.
    moved_order = Order.objects.get(pk=pair.orders[1].pk)
    moved_order.status = "cancelled"
    moved_order.save()
    OrderFactory(customer=pair.survivor, shop=pair.us, total=Decimal("5.00"))
    reasons = undo_blockers(log)
    assert "1 of the moved orders changed since the merge" in reasons
    assert "1 new orders since the merge" in reasons
    with pytest.raises(DomainError, match="cannot be undone: 1 of the moved orders changed"):
        customers_merge_undo(merge_id=log.pk)
    assert Order.objects.filter(customer=pair.duplicate).count() == 0  # nothing moved back


def test_undo_is_refused_while_a_later_merge_involves_the_survivor(programme):  # noqa: F811
    pair = two_records(with_points=False)
    first = customers_merge(survivor_id=pair.survivor.pk, merged_id=pair.duplicate.pk)
    third = OrderFactory(shop=pair.us).customer
    second = customers_merge(survivor_id=third.pk, merged_id=pair.survivor.pk)
    assert undo_blockers(first)[0] == f"a later merge (#{second.pk}) involves these customers: undo it first"
    customers_merge_undo(merge_id=second.pk)
    assert undo_blockers(first) == []


def test_a_merge_is_refused_with_itself_or_with_a_customer_already_merged_away(programme):  # noqa: F811
    pair = two_records(with_points=False)
    with pytest.raises(DomainError, match="cannot be merged with itself") as error:
        customers_merge(survivor_id=pair.survivor.pk, merged_id=pair.survivor.pk)
    assert error.value.field == "merged"
    customers_merge(survivor_id=pair.survivor.pk, merged_id=pair.duplicate.pk)
    other = OrderFactory(shop=pair.us).customer
    with pytest.raises(DomainError, match="already merged into") as error:
        customers_merge(survivor_id=other.pk, merged_id=pair.duplicate.pk)
    with pytest.raises(DomainError, match="merge into that customer instead"):
        customers_merge(survivor_id=pair.duplicate.pk, merged_id=other.pk)
    assert CustomerMerge.objects.count() == 1


def test_the_preview_counts_what_moves_and_what_stays_and_the_points(programme):  # noqa: F811
    pair = two_records()
    preview = merge_preview(survivor_id=pair.survivor.pk, merged_id=pair.duplicate.pk)
    lines = {line.kind: (line.moving, line.kept) for line in preview.lines}
    assert lines["orders"] == (2, 0)
    assert lines["shop identities"] == (1, 0)
    assert lines["segment memberships"] == (1, 1)
    assert lines["shops' tags"] == (1, 1)
    assert preview.tags == 1
    (eu_points,) = [p for p in preview.points if p.group == "EU Store"]
    assert eu_points.duplicate == (250, 60) and eu_points.after == (250, 60)
    assert preview.points_after == sum(p.after[0] for p in preview.points)
    assert dict(preview.profile) == {"phone": "+1 555 0100", "country": "DE"}
    assert preview.refusal == ""


def test_a_shops_key_still_finds_the_person_by_the_id_it_knew(programme):  # noqa: F811
    """The EU shop knew the duplicate; after the merge its key reads the survivor by the same
    id, with only the EU shop's orders and points in its slice."""
    pair = two_records()
    eu_id = api_id(pair.eu, pair.duplicate)
    customers_merge(survivor_id=pair.survivor.pk, merged_id=pair.duplicate.pk)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(shop=pair.eu).key}")
    profile = client.get(f"/api/v1/customers/{eu_id}")
    assert profile.status_code == 200, profile.content
    assert profile.json()["orders_count"] == 2  # the EU shop's two orders, none of the US shop's
    points = client.get(f"/api/v1/customers/{eu_id}/loyalty").json()
    assert (points["balance"], points["pending"]) == (250, 60)


def test_points_due_at_the_merge_are_settled_before_they_move_and_undo_stays_whole(programme):  # noqa: F811
    pair = two_records(with_points=False)
    now = timezone.now()
    late = OrderFactory(
        customer=pair.duplicate, shop=pair.eu, total=Decimal("80.00"), placed_at=now - timedelta(days=20)
    )
    # Awarded ten days ago: pending until six days ago, and nobody has matured it since.
    orders_award([pair.survivor.pk, pair.duplicate.pk], now=now - timedelta(days=10))
    assert PointsEntry.objects.filter(order=late, kind="mature").count() == 0
    before = points_of(pair.survivor), points_of(pair.duplicate)

    log = customers_merge(survivor_id=pair.survivor.pk, merged_id=pair.duplicate.pk)
    # Matured on the duplicate's own account first, then moved as available points.
    assert PointsEntry.objects.get(order=late, kind="mature").customer_id == pair.duplicate.pk
    assert log.points[str(pair.eu.group_id)][1] == 60  # only the order of 3 days ago is still pending
    assert undo_blockers(log) == []
    customers_merge_undo(merge_id=log.pk)
    after = points_of(pair.survivor), points_of(pair.duplicate)
    assert sum(map(sum, after)) == sum(map(sum, before))
    assert after[0] == before[0]
    assert balances_verify()[1] == []
