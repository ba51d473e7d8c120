"""Points per shop group, through the API: a key sees and spends only its shop's group's
account, whatever the customer holds elsewhere; shops a manager puts in one group share one
balance; the ledger still agrees with every cached balance."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from core.errors import DomainError
from crm.roles import MANAGER
from crm.tests.api_ids import api_id
from customers.models import Customer, CustomerIdentity, Order
from customers.services.api_keys import api_key_create, shop_create
from customers.tests.factories import OrderFactory
from loyalty.earning import orders_award
from loyalty.groups import shop_group_join
from loyalty.models import Account, EntryKind, PointsEntry, Reward, RewardCode
from loyalty.tests.conftest import programme  # noqa: F401 (a fixture shared with loyalty)
from loyalty.verify import balances_verify

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def client_of(key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def shops(db, identity_ids_apart):
    """Shops A and B, each in a group of its own (the default), each with an integration key."""
    (a, a_key), (b, b_key) = shop_create(slug="a", name="Shop A"), shop_create(slug="b", name="Shop B")
    clients = {"A": client_of(a_key.key), "B": client_of(b_key.key)}
    clients["A"].shop, clients["B"].shop = a, b  # whose ids of customers each key uses
    return {"a": a, "b": b, **clients}


@pytest.fixture
def ann(shops):
    """A customer known to both shops."""
    person = Customer.objects.create(email="ann@example.com", email_normalized="ann@example.com")
    for shop in (shops["a"], shops["b"]):
        CustomerIdentity.objects.create(shop=shop, customer=person, external_id=f"ann-{shop.slug}")
    return person


@pytest.fixture
def reward(db):
    return Reward.objects.create(name="$5 off", kind=Reward.Kind.FIXED_AMOUNT, value=5, points_cost=100)


def buy(customer, shop, total: str, days_ago: int = 20) -> Order:
    """A paid order, awarded as the pipeline does (20 days ago: past the 14-day return window)."""
    order = OrderFactory(
        customer=customer, shop=shop, total=Decimal(total), placed_at=NOW - timedelta(days=days_ago, hours=1)
    )
    orders_award([customer.pk], now=NOW)
    return order


def points(client, customer) -> dict:
    response = client.get(f"/api/v1/customers/{api_id(client.shop, customer)}/loyalty")
    assert response.status_code == 200, response.content
    return response.json()


def redeem(client, customer, reward):
    url = f"/api/v1/customers/{api_id(client.shop, customer)}/loyalty/redeem"
    return client.post(url, {"reward_id": reward.pk}, format="json")


def test_a_key_neither_sees_nor_spends_points_earned_only_in_another_groups_shop(programme, shops, ann, reward):  # noqa: F811
    buy(ann, shops["b"], "300.00")  # 300 + the 50 welcome bonus, in B's group

    in_b, in_a = points(shops["B"], ann), points(shops["A"], ann)

    assert (in_b["balance"], in_b["pending"]) == (350, 0)
    assert (in_a["balance"], in_a["pending"], in_a["tier"], in_a["history"]) == (0, 0, None, [])
    assert in_a.keys() == in_b.keys()  # the same shape: nothing says the customer has points elsewhere
    assert in_a["referral_code"] != in_b["referral_code"]

    refused = redeem(shops["A"], ann, reward)
    assert refused.status_code == 400
    assert "the balance is 0" in refused.json()["errors"]["reward_id"][0]
    assert not RewardCode.objects.exists()
    assert points(shops["B"], ann)["balance"] == 350

    profile = shops["A"].get(f"/api/v1/customers/{api_id(shops['a'], ann)}").json()
    assert profile["loyalty"] == {"balance": 0, "pending": 0, "tier": None}
    assert shops["B"].get(f"/api/v1/customers/{api_id(shops['b'], ann)}").json()["loyalty"]["balance"] == 350

    # B's own key spends B's points; A's key cannot look the code up.
    code = redeem(shops["B"], ann, reward).json()["code"]
    assert shops["A"].get(f"/api/v1/loyalty/codes/{code}").status_code == 404
    assert (points(shops["A"], ann)["balance"], points(shops["B"], ann)["balance"]) == (0, 250)
    assert balances_verify()[1] == []


@pytest.mark.parametrize(
    ("condition", "at_a", "at_b"),
    [
        ({"field": "points_balance", "operator": "gte", "value": 300}, 0, 1),
        ({"field": "points_balance", "operator": "is_not_set"}, 1, 0),
        ({"field": "points_balance", "operator": "ne", "value": 350}, 1, 0),
        ({"field": "loyalty_tier", "operator": "is_set"}, 0, 1),
        ({"field": "loyalty_tier", "operator": "not_in", "value": ["Silver"]}, 1, 0),
    ],
)
def test_a_segment_rule_on_points_reads_the_keys_groups_account(programme, shops, ann, condition, at_a, at_b):  # noqa: F811
    """Loyalty figures are kept per group, so a rule through a key tests that group's account;
    a customer with none there is as one whose figure is not set."""
    from loyalty.models import Tier

    silver = Tier.objects.create(name="Silver", rank=1, enter_threshold=100, keep_threshold=50, multiplier=1)
    buy(ann, shops["b"], "300.00")
    Account.objects.filter(customer=ann, group=shops["b"].group).update(tier=silver)
    if "value" in condition and condition["field"] == "loyalty_tier":
        condition = {**condition, "value": [str(silver.pk)]}
    rule = {"match": "all", "children": [condition]}

    counts = [
        c.post("/api/v1/segments/preview", {"rule": rule}, format="json").json()["count"]
        for c in (shops["A"], shops["B"])
    ]

    assert counts == [at_a, at_b]


def test_a_manager_key_adjusts_only_its_own_groups_account(programme, shops, ann):  # noqa: F811
    buy(ann, shops["b"], "300.00")
    manager = client_of(api_key_create(shop=shops["a"], name="m", role=Group.objects.get(name=MANAGER)).key)

    url = f"/api/v1/customers/{api_id(shops['a'], ann)}/loyalty/adjust"
    taken = manager.post(url, {"points": -10, "reason": "test"}, format="json")
    given = manager.post(url, {"points": 5, "reason": "test"}, format="json")

    assert taken.status_code == 400 and "The balance is 0" in taken.json()["errors"]["points"][0]
    assert given.status_code == 200 and given.json()["balance"] == 5
    assert (points(shops["A"], ann)["balance"], points(shops["B"], ann)["balance"]) == (5, 350)


def test_grouped_shops_see_and_spend_one_balance(programme, shops, ann, reward):  # noqa: F811
    buy(ann, shops["b"], "300.00")

    assert shop_group_join(shop_id=shops["a"].pk, group_id=shops["b"].group_id) == 0  # A had no points

    assert points(shops["A"], ann)["balance"] == points(shops["B"], ann)["balance"] == 350
    assert redeem(shops["A"], ann, reward).status_code == 201
    assert points(shops["A"], ann)["balance"] == points(shops["B"], ann)["balance"] == 250
    assert Account.objects.filter(customer=ann).count() == 1  # one account: the group's
    assert balances_verify()[1] == []


def test_joining_a_group_merges_the_shops_balances_by_the_ledger(programme, shops, ann):  # noqa: F811
    buy(ann, shops["b"], "300.00")  # 350 available in B's group
    a_order = buy(ann, shops["a"], "100.00", days_ago=2)  # 150 pending in A's group (return window)

    assert shop_group_join(shop_id=shops["a"].pk, group_id=shops["b"].group_id) == 1

    joint = points(shops["A"], ann)
    assert (joint["balance"], joint["pending"]) == (350, 150)
    assert points(shops["B"], ann) == joint
    transfers = PointsEntry.objects.filter(kind=EntryKind.TRANSFER).order_by("available")
    assert [(t.group_id, t.available, t.pending) for t in transfers] == [
        (shops["a"].group_id, 0, -150),
        (shops["b"].group_id, 0, 150),
    ]
    assert balances_verify()[1] == []

    # A's order, earned before the merge, matures into the joint account; its refund comes back from it.
    orders_award([ann.pk], now=NOW + timedelta(days=15))
    Order.objects.filter(pk=a_order.pk).update(refunded_base=Decimal("100.00"), status=Order.Status.REFUNDED)
    orders_award([ann.pk], now=NOW + timedelta(days=16))

    assert (points(shops["B"], ann)["balance"], points(shops["B"], ann)["pending"]) == (350, 0)
    assert Account.objects.get(customer=ann, group_id=shops["a"].group_id).balance == 0
    assert balances_verify()[1] == []


def test_a_shop_that_shares_its_group_is_not_moved_while_the_group_has_points(programme, shops, ann):  # noqa: F811
    third, _ = shop_create(slug="c", name="Shop C")
    shop_group_join(shop_id=third.pk, group_id=shops["b"].group_id)
    buy(ann, shops["b"], "300.00")

    with pytest.raises(DomainError) as refused:
        shop_group_join(shop_id=third.pk, group_id=shops["a"].group_id)

    assert refused.value.field == "group"
    third.refresh_from_db()
    assert third.group_id == shops["b"].group_id
