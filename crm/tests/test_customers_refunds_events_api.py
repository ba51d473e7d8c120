from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Customer, CustomerIdentity, CustomerMetrics, Event, Order, Refund
from customers.tests.factories import fitted_model

pytestmark = pytest.mark.django_db


class TestCustomers:
    def test_upsert_creates_then_updates_by_external_id(self, api):
        created = api.post(
            "/api/v1/customers",
            {
                "external_id": "c-9",
                "email": "Bo@Example.com",
                "country": "de",
                "tags": ["vip"],
                "marketing_consent": True,
            },
            format="json",
        )
        updated = api.post("/api/v1/customers", {"external_id": "c-9", "phone": "+49 30 1234"}, format="json")

        assert (created.status_code, updated.status_code) == (201, 200)
        body = updated.json()
        assert body["id"] == created.json()["id"]
        assert body["external_ids"] == ["c-9"]
        assert (body["email"], body["country"], body["phone"], body["tags"]) == (
            "Bo@Example.com",
            "DE",
            "+49 30 1234",
            ["vip"],
        )
        assert body["marketing_consent"] is True and body["marketing_consent_at"]
        assert Customer.objects.count() == 1

    def test_upsert_by_email_links_the_existing_customer(self, api):
        first = api.post("/api/v1/customers", {"email": "cy@example.com"}, format="json")
        assert first.json()["marketing_consent"] is None  # the shop never said: not "withdrawn"

        response = api.post("/api/v1/customers", {"external_id": "x1", "email": "CY@example.com"}, format="json")

        assert response.status_code == 200
        assert Customer.objects.count() == 1
        assert sorted(CustomerIdentity.objects.values_list("external_id", flat=True)) == ["email:cy@example.com", "x1"]

    def test_empty_values_never_erase_the_profile(self, api):
        api.post("/api/v1/customers", {"external_id": "c1", "first_name": "Dee"}, format="json")
        api.post("/api/v1/customers", {"external_id": "c1", "first_name": ""}, format="json")

        assert Customer.objects.get().first_name == "Dee"

    def test_customer_without_id_or_email_is_400(self, api):
        response = api.post("/api/v1/customers", {"first_name": "Nobody"}, format="json")

        assert response.status_code == 400
        assert "external_id" in response.json()["errors"]

    def test_list_is_cursor_paginated_newest_first(self, api):
        for i in range(5):
            api.post("/api/v1/customers", {"external_id": f"c{i}"}, format="json")

        first = api.get("/api/v1/customers?page_size=2").json()
        second = api.get(first["next"]).json()

        assert [c["external_ids"] for c in first["results"]] == [["c4"], ["c3"]]
        assert [c["external_ids"] for c in second["results"]] == [["c2"], ["c1"]]

    @pytest.mark.parametrize("offset", ["-17:22", "%2B23:59", "Z"])
    def test_updated_since_takes_any_iso_offset(self, api, offset):
        api.post("/api/v1/customers", {"external_id": "a"}, format="json")

        past = api.get(f"/api/v1/customers?updated_since=1884-03-17T08:52:14{offset}")
        future = api.get(f"/api/v1/customers?updated_since=2999-01-01T00:00:00{offset}")

        assert past.status_code == 200 and len(past.json()["results"]) == 1
        assert future.status_code == 200 and future.json()["results"] == []

    def test_list_filters(self, api):
        api.post("/api/v1/customers", {"external_id": "a", "country": "FR", "email": "fr@example.com"}, format="json")
        api.post("/api/v1/customers", {"external_id": "b", "country": "US"}, format="json")

        assert [c["external_ids"] for c in api.get("/api/v1/customers?country=fr").json()["results"]] == [["a"]]
        assert [c["external_ids"] for c in api.get("/api/v1/customers?email=FR@example.com").json()["results"]] == [
            ["a"]
        ]
        assert [c["external_ids"] for c in api.get("/api/v1/customers?external_id=b").json()["results"]] == [["b"]]

    @pytest.mark.parametrize("query", ["min_orders=abc", "updated_since=notadate", "min_orders=-1"])
    def test_bad_filter_values_are_400_naming_the_filter(self, api, query):
        response = api.get(f"/api/v1/customers?{query}")

        assert response.status_code == 400
        assert query.split("=")[0] in response.json()["errors"]

    def test_list_keeps_a_constant_query_count(self, api, django_assert_num_queries):
        for i in range(30):
            api.post("/api/v1/customers", {"external_id": f"c{i}", "tags": ["a", "b"]}, format="json")

        # The page of the group's ids, the profiles, their tags, identities and loyalty.
        with django_assert_num_queries(5):
            response = api.get("/api/v1/customers?page_size=30")

        assert len(response.json()["results"]) == 30


class TestCustomerLifecycle:
    def test_the_profile_carries_stage_reason_rfm_and_clv(self, api, order_payload, django_capture_on_commit_callbacks):
        order_payload["placed_at"] = (timezone.now() - timedelta(days=2)).isoformat()
        with django_capture_on_commit_callbacks(execute=True):
            customer_id = api.post("/api/v1/orders", order_payload, format="json").json()["customer_id"]

        body = api.get(f"/api/v1/customers/{customer_id}").json()

        assert (body["clv_historical"], body["currency"]) == ("59.90", "USD")
        lifecycle = body["lifecycle"]
        assert lifecycle["stage"] == "new"
        assert lifecycle["stage_reason"] == "last order 2 days ago; first purchase"  # the stage is not repeated
        assert lifecycle["purchase_days"] == 1 and lifecycle["days_since_last"] == 2
        assert lifecycle["p_alive"] is None and lifecycle["clv_predicted"] is None  # no fitted model yet
        assert lifecycle["clv_simple"] == "179.70"  # money, like every amount: 59.90 × 1 a year × 3 years
        assert set(lifecycle) >= {"rfm_r", "rfm_f", "rfm_m", "rfm_segment", "expected_purchases_90"}

    def test_predicted_clv_is_money_with_two_decimals(self, api, order_payload, django_capture_on_commit_callbacks):
        fitted_model()
        with django_capture_on_commit_callbacks(execute=True):
            for i, age in enumerate((90, 60, 30)):
                order = dict(order_payload, external_id=f"o{i}")
                order["placed_at"] = (timezone.now() - timedelta(days=age)).isoformat()
                customer_id = api.post("/api/v1/orders", order, format="json").json()["customer_id"]

        lifecycle = api.get(f"/api/v1/customers/{customer_id}").json()["lifecycle"]

        predicted = CustomerMetrics.objects.get().clv_predicted
        assert predicted > 0
        assert lifecycle["clv_predicted"] == str(Decimal(str(predicted)).quantize(Decimal("0.01")))
        assert isinstance(lifecycle["p_alive"], float) and 0 < lifecycle["p_alive"] < 1

    def test_a_customer_never_recomputed_has_no_lifecycle_yet(self, api):
        customer_id = api.post("/api/v1/customers", {"external_id": "c1"}, format="json").json()["id"]

        assert api.get(f"/api/v1/customers/{customer_id}").json()["lifecycle"] is None

    def test_the_list_with_lifecycle_keeps_a_constant_query_count(
        self, api, order_payload, django_assert_num_queries, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            for i in range(20):
                order = dict(order_payload, external_id=f"o{i}", customer={"external_id": f"c{i}"})
                api.post("/api/v1/orders", order, format="json")

        with django_assert_num_queries(6):
            response = api.get("/api/v1/customers?page_size=20")

        assert [c["lifecycle"]["stage"] for c in response.json()["results"]] == ["at_risk"] * 20


class TestRefunds:
    @pytest.fixture
    def order(self, api, order_payload):
        api.post("/api/v1/orders", order_payload, format="json")
        return Order.objects.get()

    def test_partial_then_full_refund_marks_the_order_refunded(self, api, order, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            first = api.post("/api/v1/orders/1001/refunds", {"amount": "9.90", "reason": "dent"}, format="json")
        order.refresh_from_db()
        assert first.status_code == 201 and order.status == "paid"
        assert order.refunded_base == Decimal("9.90")
        assert Customer.objects.get().net_revenue == Decimal("50.00")

        with django_capture_on_commit_callbacks(execute=True):
            second = api.post("/api/v1/orders/1001/refunds", {"amount": "50.00"}, format="json")

        order.refresh_from_db()
        assert second.status_code == 201 and second.json()["order_status"] == "refunded"
        customer = Customer.objects.get()
        assert (customer.orders_count, customer.net_revenue) == (0, Decimal("0.00"))

    def test_refunding_more_than_is_left_is_400_naming_amount(self, api, order):
        api.post("/api/v1/orders/1001/refunds", {"amount": "50.00"}, format="json")

        response = api.post("/api/v1/orders/1001/refunds", {"amount": "10.00"}, format="json")

        assert response.status_code == 400
        assert "amount" in response.json()["errors"]
        assert Refund.objects.count() == 1

    def test_a_refund_dated_before_its_order_is_400_naming_refunded_at(self, api, order):
        body = {"amount": "10.00", "refunded_at": "2026-01-02T09:59:59Z"}  # the order: 10:00
        response = api.post("/api/v1/orders/1001/refunds", body, format="json")

        assert response.status_code == 400
        assert "refunded_at" in response.json()["errors"]
        assert Refund.objects.count() == 0
        at_placing = {"amount": "10.00", "refunded_at": "2026-01-02T11:00:00+01:00"}
        assert api.post("/api/v1/orders/1001/refunds", at_placing, format="json").status_code == 201

    def test_a_replayed_refund_is_recorded_once(self, api, order):
        body = {"amount": "5.00", "external_id": "r-1"}
        first = api.post("/api/v1/orders/1001/refunds", body, format="json")
        again = api.post("/api/v1/orders/1001/refunds", body, format="json")

        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["id"] == again.json()["id"]
        assert Refund.objects.count() == 1

    @pytest.mark.parametrize("amount", ["0", "-3", "abc", "0.001"])
    def test_bad_amounts_are_400(self, api, order, amount):
        response = api.post("/api/v1/orders/1001/refunds", {"amount": amount}, format="json")

        assert response.status_code == 400
        assert "amount" in response.json()["errors"]

    @pytest.mark.parametrize("amount", [9.9, 10, True])
    def test_an_amount_that_is_not_a_string_is_400_naming_amount(self, api, order, amount):
        response = api.post("/api/v1/orders/1001/refunds", {"amount": amount}, format="json")

        assert response.status_code == 400
        said = (
            'Must be a decimal string such as "19.99", not true or false.'
            if amount is True
            else 'Send money as a string such as "10.00", not as a number: a number may have been rounded on its way.'
        )
        assert response.json()["errors"] == {"amount": [said]}
        assert not Refund.objects.exists()

    def test_unknown_order_is_404(self, api, order):
        assert api.post("/api/v1/orders/nope/refunds", {"amount": "1.00"}, format="json").status_code == 404


class TestEvents:
    def test_event_is_stored_for_the_customer(self, api):
        response = api.post(
            "/api/v1/events",
            {
                "type": "cart_abandoned",
                "occurred_at": "2026-03-01T12:00:00+02:00",
                "customer": {"email": "ed@example.com"},
                "payload": {"cart_value": "42.00"},
            },
            format="json",
        )

        assert response.status_code == 201
        event = Event.objects.get()
        assert (event.type, event.payload, event.customer.email_normalized) == (
            "cart_abandoned",
            {"cart_value": "42.00"},
            "ed@example.com",
        )
        assert event.occurred_at.isoformat() == "2026-03-01T10:00:00+00:00"

    def test_a_replayed_event_is_stored_once(self, api):
        body = {"type": "product_viewed", "external_id": "e1", "customer": {"external_id": "c1"}}
        api.post("/api/v1/events", body, format="json")

        assert api.post("/api/v1/events", body, format="json").status_code == 200
        assert Event.objects.count() == 1

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"customer": {"external_id": "c1"}}, "type"),
            ({"type": "Cart Abandoned!", "customer": {"external_id": "c1"}}, "type"),
            ({"type": "x", "customer": {"external_id": "c1"}, "payload": [1]}, "payload"),
            ({"type": "x", "customer": {"external_id": "c1"}, "occurred_at": "2026-03-01T12:00:00"}, "occurred_at"),
        ],
    )
    def test_bad_events_are_400_naming_the_field(self, api, body, field):
        response = api.post("/api/v1/events", body, format="json")

        assert response.status_code == 400
        assert field in response.json()["errors"]
        assert Event.objects.count() == 0
