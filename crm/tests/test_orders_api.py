"""POST /api/v1/orders and /orders/bulk: create, replay, update, and every kind of bad input."""

import copy
import json
from decimal import Decimal

import pytest

from crm.models import IdempotencyRecord
from customers.models import Customer, CustomerIdentity, ExchangeRate, Order, OrderLine, Product

pytestmark = pytest.mark.django_db


def post(api, body, path="/api/v1/orders", **headers):
    return api.post(path, body, format="json", **headers)


def test_create_order_returns_201_with_crm_ids_and_stores_everything(api, order_payload, shop):
    response = post(api, order_payload)

    assert response.status_code == 201
    body = response.json()
    order = Order.objects.get()
    assert body["id"] == order.pk
    assert body["customer_id"] == CustomerIdentity.objects.get().pk  # the shop's id of the customer, not the CRM's
    assert body["total"] == "59.90" and body["total_base"] == "59.90"
    assert body["lines"] == [
        {"sku": "SKU-1", "name": "Mug", "quantity": 2, "unit_price": "29.95", "product_id": Product.objects.get().pk}
    ]
    assert order.shop == shop and order.status == "paid" and order.subtotal == Decimal("59.90")
    assert order.placed_at.isoformat() == "2026-01-02T10:00:00+00:00"
    customer = Customer.objects.get()
    assert (customer.email_normalized, customer.first_name, customer.last_name) == ("ann@example.com", "Ann", "Lee")
    assert CustomerIdentity.objects.get().external_id == "c-1"


def test_replaying_the_identical_body_returns_200_and_the_same_order(api, order_payload):
    first = post(api, order_payload)
    second = post(api, order_payload)

    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["updated_at"] == first.json()["updated_at"]
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 1


def test_a_changed_body_updates_the_order_and_replaces_its_lines(api, order_payload):
    first = post(api, order_payload).json()
    order_payload.update(status="fulfilled", total="39.90")
    order_payload["lines"] = [
        {"sku": "SKU-2", "name": "Tea", "quantity": 1, "unit_price": "9.95"},
        {"sku": "SKU-1", "name": "Mug", "quantity": 1, "unit_price": "29.95"},
    ]

    response = post(api, order_payload)

    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    order = Order.objects.get()
    assert (order.status, order.total) == ("fulfilled", Decimal("39.90"))
    assert sorted(order.lines.values_list("sku", "quantity")) == [("SKU-1", 1), ("SKU-2", 1)]


def test_order_in_another_currency_is_converted_to_base(api, order_payload):
    ExchangeRate.objects.create(currency="EUR", rate_to_base=Decimal("1.10"))
    order_payload["currency"] = "eur"

    body = post(api, order_payload).json()

    assert (body["currency"], body["total"], body["total_base"]) == ("EUR", "59.90", "65.89")


def test_same_email_in_two_shops_is_one_customer(api, other_api, order_payload):
    post(api, order_payload)
    order_payload["customer"] = {"external_id": "zz-9", "email": "  ANN@example.com "}

    response = post(other_api, order_payload)

    assert response.status_code == 201
    assert Customer.objects.count() == 1
    assert CustomerIdentity.objects.count() == 2
    assert Order.objects.count() == 2  # same external_id, different shops


def test_aggregates_are_recomputed_after_the_order_commits(api, order_payload, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post(api, order_payload)
        order_payload.update(external_id="1002", total="10.00", placed_at="2026-02-01T00:00:00+01:00")
        order_payload["lines"] = [{"sku": "SKU-3", "name": "Spoon", "quantity": 1, "unit_price": "10.00"}]
        post(api, order_payload)

    customer = Customer.objects.get()
    assert customer.orders_count == 2
    assert customer.net_revenue == Decimal("69.90")
    assert customer.avg_order_value == Decimal("34.95")
    assert customer.first_order_at.isoformat() == "2026-01-02T10:00:00+00:00"
    assert customer.last_order_at.isoformat() == "2026-01-31T23:00:00+00:00"


class TestIdempotencyKey:
    def test_a_retry_with_the_same_key_replays_the_first_response(self, api, order_payload):
        first = post(api, order_payload, HTTP_IDEMPOTENCY_KEY="k-1")
        again = post(api, order_payload, HTTP_IDEMPOTENCY_KEY="k-1")

        assert (first.status_code, again.status_code) == (201, 201)
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert Order.objects.count() == 1 and IdempotencyRecord.objects.count() == 1

    def test_the_same_key_with_another_body_is_409(self, api, order_payload):
        post(api, order_payload, HTTP_IDEMPOTENCY_KEY="k-1")
        order_payload["status"] = "cancelled"

        response = post(api, order_payload, HTTP_IDEMPOTENCY_KEY="k-1")

        assert response.status_code == 409
        assert "Idempotency-Key" in response.json()["errors"]
        assert Order.objects.get().status == "paid"

    def test_a_failed_request_is_not_stored_so_a_corrected_retry_runs(self, api, order_payload):
        order_payload["total"] = "-1"
        assert post(api, order_payload, HTTP_IDEMPOTENCY_KEY="k-2").status_code == 400
        order_payload["total"] = "59.90"

        assert post(api, order_payload, HTTP_IDEMPOTENCY_KEY="k-2").status_code == 201


def _mutate(payload, path, value):
    target = payload
    *parents, last = path
    for key in parents:
        target = target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value


BAD_INPUT = [
    # (case, path to change, new value, the field the error must name)
    ("missing external_id", ["external_id"], KeyError, "external_id"),
    ("missing customer", ["customer"], KeyError, "customer"),
    ("customer without id or email", ["customer"], {"first_name": "Ann"}, "customer.external_id"),
    ("bad email", ["customer", "email"], "not-an-email", "customer.email"),
    ("string where a list belongs", ["lines"], "SKU-1 x2", "lines"),
    ("list where an object belongs", ["customer"], [{"email": "a@b.co"}], "customer"),
    ("number where text belongs", ["external_id"], {"id": 1}, "external_id"),
    ("naive datetime", ["placed_at"], "2026-01-02T10:00:00", "placed_at"),
    ("not a datetime", ["placed_at"], "yesterday", "placed_at"),
    ("negative total", ["total"], "-59.90", "total"),
    ("negative unit price", ["lines", 0, "unit_price"], "-1.00", "lines[0].unit_price"),
    ("zero quantity", ["lines", 0, "quantity"], 0, "lines[0].quantity"),
    ("too many decimals", ["total"], "59.901", "total"),
    ("NaN money", ["total"], "NaN", "total"),
    ("huge money", ["total"], "1e20", "total"),
    ("lines do not add up", ["total"], "60.00", "total"),
    ("subtotal disagrees with lines", ["subtotal"], "10.00", "subtotal"),
    ("unknown currency", ["currency"], "XYZ", "currency"),
    ("malformed currency", ["currency"], "US", "currency"),
    ("unknown status", ["status"], "shipped-ish", "status"),
    ("JPY with decimals", ["currency"], "JPY", "currency"),
]


@pytest.mark.parametrize(("case", "path", "value", "field"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api, order_payload, case, path, value, field):
    if case == "JPY with decimals":
        ExchangeRate.objects.create(currency="JPY", rate_to_base=Decimal("0.0067"))
        field = "total"
    _mutate(order_payload, path, value)

    response = post(api, order_payload)

    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["errors"], body
    assert body["errors"][field][0]
    assert field in body["detail"] or body["detail"].startswith("Invalid input")
    assert (Order.objects.count(), Customer.objects.count(), Product.objects.count()) == (0, 0, 0)


NOT_A_STRING = 'Send money as a string such as "10.00", not as a number: a number may have been rounded on its way.'


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["total"], 59.9, "total"),
        (["total"], 60, "total"),
        (["shipping_total"], 0, "shipping_total"),
        (["lines", 0, "unit_price"], 29.95, "lines[0].unit_price"),
    ],
)
def test_money_as_a_json_number_is_a_400_naming_the_field(api, order_payload, path, value, field):
    """Money is a decimal string: a JSON number has usually been a binary float on the way
    (0.1 + 0.2 is 0.30000000000000004), so it is refused rather than guessed at."""
    _mutate(order_payload, path, value)

    response = post(api, order_payload)

    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {field: [NOT_A_STRING]}
    assert (Order.objects.count(), Customer.objects.count()) == (0, 0)


def test_a_bulk_item_with_money_as_a_number_is_refused_alone(api, order_payload):
    good, bad = copy.deepcopy(order_payload), {**copy.deepcopy(order_payload), "external_id": "B", "total": 59.9}

    response = post(api, {"orders": [good, bad]}, "/api/v1/orders/bulk")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "error"]
    assert results[1]["errors"] == {"total": [NOT_A_STRING]}
    assert list(Order.objects.values_list("external_id", flat=True)) == [order_payload["external_id"]]


def test_every_field_s_problem_comes_back_in_one_400_and_nothing_is_written(api, order_payload):
    order_payload.update(currency="euro", total=10.0)
    order_payload["customer"].update(country="Germany", birthday="1990-02-30")
    order_payload["lines"][0]["quantity"] = "two"

    response = post(api, order_payload)

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {
        "currency",
        "total",
        "customer.country",
        "customer.birthday",
        "lines[0].quantity",
    }
    assert (Order.objects.count(), Customer.objects.count()) == (0, 0)


def test_malformed_json_is_400(api):
    response = api.post("/api/v1/orders", data='{"external_id": "1", ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"]["body"][0].startswith("Malformed JSON")


@pytest.mark.parametrize("body", ["[]", '"text"', "42", "null"])
def test_a_body_that_is_not_an_object_is_400(api, body):
    response = api.post("/api/v1/orders", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"]


def test_a_lone_surrogate_is_refused_not_a_500(api):
    response = api.post("/api/v1/orders", data='{"external_id": "\\ud800"}', content_type="application/json")

    assert response.status_code == 400


def test_a_body_over_5_mb_is_413(api, order_payload):
    order_payload["customer"]["first_name"] = "x" * (5 * 1024 * 1024)

    response = api.post("/api/v1/orders", data=json.dumps(order_payload), content_type="application/json")

    assert response.status_code == 413
    assert "body" in response.json()["errors"]
    assert Order.objects.count() == 0


class TestBulk:
    def test_valid_items_are_written_and_bad_ones_reported_per_item(self, api, order_payload):
        good = dict(order_payload, external_id="A")
        bad_total = dict(order_payload, external_id="B", total="1.00")
        not_an_object = 7
        duplicate = dict(order_payload, external_id="A")

        response = post(api, {"orders": [good, bad_total, not_an_object, duplicate]}, "/api/v1/orders/bulk")

        assert response.status_code == 200
        body = response.json()
        assert (body["created"], body["updated"], body["unchanged"], body["errors"]) == (1, 0, 0, 3)
        results = body["results"]
        assert [r["status"] for r in results] == ["created", "error", "error", "error"]
        assert results[0]["id"] == Order.objects.get(external_id="A").pk
        assert "total" in results[1]["errors"]
        assert "non_field_errors" in results[2]["errors"]
        assert "external_id" in results[3]["errors"]
        assert list(Order.objects.values_list("external_id", flat=True)) == ["A"]

    def test_an_item_refused_as_sent_still_names_its_external_id(self, api, order_payload):
        far = dict(order_payload, external_id="B-bad-2", placed_at="9999-12-31T00:00:00Z")
        nul = dict(order_payload, external_id="atkb-bad", customer={"email": "a@example.com", "first_name": "A\u0000"})
        no_id = dict(order_payload, external_id=12)

        results = post(api, {"orders": [far, nul, no_id]}, "/api/v1/orders/bulk").json()["results"]

        assert [(r["status"], r["external_id"]) for r in results] == [
            ("error", "B-bad-2"),
            ("error", "atkb-bad"),
            ("error", None),
        ]
        assert "placed_at" in results[0]["errors"] and "customer.first_name" in results[1]["errors"]

    def test_a_replayed_bulk_reports_unchanged_and_updated(self, api, order_payload):
        items = [dict(order_payload, external_id=str(i)) for i in range(3)]
        post(api, {"orders": items}, "/api/v1/orders/bulk")
        items[1] = dict(items[1], status="fulfilled")

        body = post(api, {"orders": items}, "/api/v1/orders/bulk").json()

        assert [r["status"] for r in body["results"]] == ["unchanged", "updated", "unchanged"]
        assert Order.objects.get(external_id="1").status == "fulfilled"
        assert Order.objects.count() == 3 and Customer.objects.count() == 1

    def test_over_1000_items_is_400_naming_orders(self, api, order_payload):
        response = post(api, {"orders": [order_payload] * 1001}, "/api/v1/orders/bulk")

        assert response.status_code == 400
        assert "orders" in response.json()["errors"]
        assert Order.objects.count() == 0

    @pytest.mark.parametrize("body", [{}, {"orders": []}, {"orders": "x"}, {"orders": {"a": 1}}])
    def test_a_bad_envelope_is_400_naming_orders(self, api, body):
        response = post(api, body, "/api/v1/orders/bulk")

        assert response.status_code == 400
        assert "orders" in response.json()["errors"]

    def test_a_thousand_orders_take_a_fixed_number_of_queries(self, api, order_payload, assert_queries):
        items = [
            dict(order_payload, external_id=f"o{i}", customer={"external_id": f"c{i}", "email": f"p{i}@example.com"})
            for i in range(1000)
        ]
        # PostgreSQL writes the orders and the lines with COPY, which the count does not see.
        # ... and one more for the shop's ids of the customers.
        with assert_queries(sqlite=16, postgresql=14):
            response = post(api, {"orders": items}, "/api/v1/orders/bulk")

        assert response.json()["created"] == 1000
        assert Order.objects.count() == 1000 and OrderLine.objects.count() == 1000
        assert Customer.objects.count() == 1000


def test_a_single_order_for_a_known_customer_takes_a_fixed_number_of_queries(api, order_payload, assert_queries):
    post(api, order_payload)
    order_payload.update(external_id="1002")

    # Order lookup, customer by identity, products, order insert, lines insert (COPY on
    # PostgreSQL, which the count does not see), the outbox mark, a savepoint and its release,
    # the shop's id of the customer.
    with assert_queries(sqlite=9, postgresql=8):
        response = post(api, order_payload)

    assert response.status_code == 201
    assert [line["sku"] for line in response.json()["lines"]] == ["SKU-1"]


def test_a_replayed_order_still_returns_its_lines(api, order_payload):
    post(api, order_payload)

    replay = post(api, order_payload)

    assert replay.status_code == 200
    assert replay.json()["lines"][0]["unit_price"] == "29.95"
