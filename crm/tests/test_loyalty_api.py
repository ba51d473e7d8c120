"""Loyalty over the API: a customer's points, the catalogue, redeeming, codes at checkout,
and manual adjustments. Bad input gets a 4xx naming the field, and nothing changes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.roles import MANAGER, SUPPORT_AGENT
from crm.tests.api_ids import own_id
from customers.models import Customer, CustomerIdentity
from loyalty.models import Account, EntryKind, PointsEntry, Reward, RewardCode, Tier
from loyalty.services import points_adjust


@pytest.fixture
def customer(shop, admin_user):
    """A customer of the key's shop with 250 points to spend."""
    person = Customer.objects.create(email="ann@example.com", email_normalized="ann@example.com", first_name="Ann")
    CustomerIdentity.objects.create(shop=shop, customer=person, external_id="c-1")
    points_adjust(customer=person, group_id=shop.group_id, points=250, reason="opening balance", staff_id=admin_user.pk)
    return person


@pytest.fixture
def reward(db):
    return Reward.objects.create(name="$5 off", kind=Reward.Kind.FIXED_AMOUNT, value=5, points_cost=100)


def balance(customer) -> int:
    return Account.objects.get(customer=customer).balance


def redeem(api, customer, reward_id):
    return api.post(f"/api/v1/customers/{own_id(customer)}/loyalty/redeem", {"reward_id": reward_id}, format="json")


class TestProfile:
    def test_balance_pending_tier_progress_and_history(self, api, customer):
        Tier.objects.create(name="Silver", rank=1, enter_threshold=500, keep_threshold=400)
        Account.objects.filter(customer=customer).update(tier_qualifying=125)

        body = api.get(f"/api/v1/customers/{own_id(customer)}/loyalty").json()

        assert (body["balance"], body["pending"], body["tier"]) == (250, 0, None)
        assert body["progress"]["next_tier"]["name"] == "Silver"
        assert (body["progress"]["needed"], body["progress"]["percent"]) == ("375.00", 25)
        assert [(e["kind"], e["available"], e["reason"]) for e in body["history"]] == [
            ("adjust", 250, "opening balance")
        ]

    def test_a_customer_without_points_has_an_empty_account(self, api, shop):
        person = Customer.objects.create(email="bo@example.com", email_normalized="bo@example.com")
        CustomerIdentity.objects.create(shop=shop, customer=person, external_id="c-2")

        body = api.get(f"/api/v1/customers/{own_id(person)}/loyalty").json()

        assert (body["balance"], body["pending"], body["history"]) == (0, 0, [])

    def test_another_shops_customer_is_404(self, other_api, customer):
        assert other_api.get(f"/api/v1/customers/{own_id(customer)}/loyalty").status_code == 404


class TestCatalogue:
    def test_lists_what_this_shop_can_redeem_now(self, api, shop, other_api, reward):
        from customers.models import Shop

        Reward.objects.create(name="Old", kind="free_shipping", points_cost=10, is_active=False)
        Reward.objects.create(
            name="Later", kind="free_shipping", points_cost=10, valid_from=timezone.now() + timedelta(1)
        )
        Reward.objects.create(name="Sold out", kind="free_shipping", points_cost=10, total_limit=0)
        Reward.objects.create(
            name="Here only",
            kind="free_product",
            product_sku="MUG",
            points_cost=300,
            shop=Shop.objects.get(slug="main"),
        )

        names = [r["name"] for r in api.get("/api/v1/loyalty/rewards").json()["results"]]
        other_names = [r["name"] for r in other_api.get("/api/v1/loyalty/rewards").json()["results"]]

        assert sorted(names) == ["$5 off", "Here only"]
        assert other_names == ["$5 off"]


class TestRedeem:
    def test_spends_the_points_and_issues_a_code_for_this_shop(self, api, customer, reward):
        response = redeem(api, customer, reward.pk)

        assert response.status_code == 201
        code = RewardCode.objects.get()
        assert response.json()["code"] == code.code and code.code.startswith("RW-")
        assert (code.points_spent, code.status, code.shop.slug) == (100, "issued", "main")
        assert balance(customer) == 150
        assert PointsEntry.objects.get(kind=EntryKind.REDEEM).available == -100

    def test_more_than_the_balance_is_400_and_spends_nothing(self, api, customer):
        dear = Reward.objects.create(name="Big", kind="percentage", value=50, points_cost=251)

        response = redeem(api, customer, dear.pk)

        assert response.status_code == 400
        assert "balance is 250" in response.json()["errors"]["reward_id"][0]
        assert balance(customer) == 250 and not RewardCode.objects.exists()

    @pytest.mark.parametrize("reward_id", [0, -1, "x", None, 99999])
    def test_an_unknown_or_malformed_reward_is_400_naming_it(self, api, customer, reward_id):
        response = redeem(api, customer, reward_id)

        assert response.status_code == 400
        assert "reward_id" in response.json()["errors"]
        assert balance(customer) == 250

    def test_another_shops_reward_is_refused(self, api, customer):
        from customers.models import Shop

        elsewhere = Reward.objects.create(
            name="Theirs", kind="free_shipping", points_cost=10, shop=Shop.objects.create(slug="x", name="X")
        )
        assert redeem(api, customer, elsewhere.pk).status_code == 400
        assert balance(customer) == 250

    def test_limits_per_customer_and_in_all(self, api, customer, reward):
        reward.per_customer_limit = 1
        reward.save()
        assert redeem(api, customer, reward.pk).status_code == 201
        second = redeem(api, customer, reward.pk)
        assert second.status_code == 400 and "limit" in second.json()["detail"]

        reward.refresh_from_db()
        reward.per_customer_limit, reward.total_limit = None, 1
        reward.save()
        assert redeem(api, customer, reward.pk).status_code == 400
        assert balance(customer) == 150

    def test_another_shops_customer_is_404(self, other_api, customer, reward):
        assert redeem(other_api, customer, reward.pk).status_code == 404
        assert balance(customer) == 250


class TestCodes:
    @pytest.fixture
    def code(self, api, customer, reward):
        return redeem(api, customer, reward.pk).json()["code"]

    def test_the_shop_checks_then_consumes_a_code_once(self, api, code):
        checked = api.get(f"/api/v1/loyalty/codes/{code}").json()
        assert (checked["status"], checked["reward"]["name"]) == ("issued", "$5 off")

        used = api.post(f"/api/v1/loyalty/codes/{code}/consume", {"order_external_id": "1002"}, format="json")
        assert used.status_code == 200
        assert (used.json()["status"], used.json()["order_external_id"]) == ("consumed", "1002")

        again = api.post(f"/api/v1/loyalty/codes/{code}/consume", {}, format="json")
        assert again.status_code == 409
        assert "already used" in again.json()["errors"]["code"][0]

    def test_codes_are_read_case_insensitively(self, api, code):
        assert api.post(f"/api/v1/loyalty/codes/{code.lower()}/consume").status_code == 200

    def test_an_expired_code_is_410_and_stays_unused(self, api, code):
        RewardCode.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

        response = api.post(f"/api/v1/loyalty/codes/{code}/consume")

        assert response.status_code == 410
        assert RewardCode.objects.get().status == "issued"

    def test_another_shops_code_or_an_unknown_one_is_404(self, other_api, api, code):
        assert other_api.post(f"/api/v1/loyalty/codes/{code}/consume").status_code == 404
        assert other_api.get(f"/api/v1/loyalty/codes/{code}").status_code == 404
        assert api.post("/api/v1/loyalty/codes/RW-NOPE/consume").status_code == 404
        assert RewardCode.objects.get().status == "issued"

    def test_a_bad_body_is_400_naming_the_field(self, api, code):
        response = api.post(f"/api/v1/loyalty/codes/{code}/consume", {"order_external_id": 5}, format="json")

        assert response.status_code == 400
        assert "order_external_id" in response.json()["errors"]


class TestAdjust:
    def url(self, customer):
        return f"/api/v1/customers/{own_id(customer)}/loyalty/adjust"

    def test_a_manager_key_adjusts_with_a_reason_recorded(self, shop, customer, role_api):
        response = role_api(shop, MANAGER).post(
            self.url(customer), {"points": -50, "reason": "goodwill"}, format="json"
        )

        assert response.status_code == 200
        assert response.json()["balance"] == 200
        entry = PointsEntry.objects.filter(kind=EntryKind.ADJUST).first()
        assert (entry.available, entry.reason, entry.api_key.role.name) == (-50, "goodwill", MANAGER)

    @pytest.mark.parametrize("role", [None, SUPPORT_AGENT])
    def test_integration_and_agent_keys_are_refused(self, shop, api, customer, role, role_api):
        client = api if role is None else role_api(shop, role)

        response = client.post(self.url(customer), {"points": 10, "reason": "x"}, format="json")

        assert response.status_code == 403
        assert balance(customer) == 250

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"points": 0, "reason": "x"}, "points"),
            ({"points": -251, "reason": "x"}, "points"),
            ({"points": 10_000_000, "reason": "x"}, "points"),
            ({"points": 1.5, "reason": "x"}, "points"),
            ({"points": 10, "reason": "  "}, "reason"),
            ({"points": 10}, "reason"),
        ],
    )
    def test_bad_adjustments_are_400_naming_the_field(self, shop, customer, body, field, role_api):
        response = role_api(shop, MANAGER).post(self.url(customer), body, format="json")

        assert response.status_code == 400
        assert field in response.json()["errors"]
        assert balance(customer) == 250


def test_the_customer_profile_carries_points_and_tier(api, customer, shop):
    gold = Tier.objects.create(name="Gold", rank=2, enter_threshold=1000, keep_threshold=800)
    Account.objects.filter(customer=customer).update(tier=gold)
    newcomer = Customer.objects.create(email="new@example.com", email_normalized="new@example.com")
    CustomerIdentity.objects.create(shop=shop, customer=newcomer, external_id="c-9")

    assert api.get(f"/api/v1/customers/{own_id(customer)}").json()["loyalty"] == {
        "balance": 250,
        "pending": 0,
        "tier": "Gold",
    }
    listed = {c["id"]: c["loyalty"] for c in api.get("/api/v1/customers").json()["results"]}
    assert listed[own_id(newcomer)] == {"balance": 0, "pending": 0, "tier": None}
