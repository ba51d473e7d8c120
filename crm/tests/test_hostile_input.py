"""Hostile input through HTTP (issue 16, sections 1 and 4): every value is checked against
what the database and every later sum can hold before anything is written, so a 400 leaves
no row behind, and no input, parameter or cursor is a 500."""

import base64
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from campaigns.services import segment_create
from crm.tests.api_ids import own_id
from customers.models import Customer, CustomerIdentity, Event, ExchangeRate, Order, OrderLine, Product, Refund, Tag

pytestmark = pytest.mark.django_db

ROWS = (Customer, CustomerIdentity, Order, OrderLine, Event, Refund, Product, Tag)


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in ROWS}


def post(api, path, body):
    return api.post(path, body if isinstance(body, bytes) else json.dumps(body), content_type="application/json")


def assert_400_naming(response, field) -> dict:
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in errors, errors
    return errors


@pytest.fixture
def known_order(api, order_payload):
    """A customer with one order, for refunds and for requests that name the same person."""
    assert post(api, "/api/v1/orders", order_payload).status_code == 201
    return order_payload


def order_with(order_payload, **fields):
    return {**order_payload, "external_id": "hostile", **fields}


def event_with(**fields):
    return {"type": "cart_abandoned", "customer": {"email": "ann@example.com"}, **fields}


# Each datetime field the API accepts, as (path, body builder, field).
DATETIME_FIELDS = [
    ("/api/v1/orders", lambda order, value: order_with(order, placed_at=value), "placed_at"),
    ("/api/v1/events", lambda order, value: event_with(occurred_at=value), "occurred_at"),
    (
        "/api/v1/orders/1001/refunds",
        lambda order, value: {"amount": "1.00", "refunded_at": value},
        "refunded_at",
    ),
]


class TestDatetimes:
    @pytest.mark.parametrize(("path", "body", "field"), DATETIME_FIELDS)
    @pytest.mark.parametrize(
        "value",
        [
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "1969-12-31T23:59:59Z",
            "2999-01-01T00:00:00+23:59",
        ],
    )
    def test_outside_the_window_is_400_naming_the_field_and_writes_nothing(
        self, api, known_order, path, body, field, value
    ):
        before = row_counts()
        first_seen = Customer.objects.get().first_seen_at

        assert_400_naming(post(api, path, body(known_order, value)), field)

        assert row_counts() == before
        assert Customer.objects.get().first_seen_at == first_seen

    def test_clock_skew_and_a_typo_are_told_apart(self, api, order_payload):
        skewed = (timezone.now() + timedelta(days=3)).isoformat()

        skew = assert_400_naming(post(api, "/api/v1/orders", order_with(order_payload, placed_at=skewed)), "placed_at")
        typo = assert_400_naming(
            post(api, "/api/v1/orders", order_with(order_payload, placed_at="9999-01-01T00:00:00Z")), "placed_at"
        )
        early = assert_400_naming(
            post(api, "/api/v1/orders", order_with(order_payload, placed_at="0001-01-01T00:00:00+14:00")), "placed_at"
        )

        assert "in the future" in skew["placed_at"][0] and "clock" in skew["placed_at"][0]
        assert "9999" in typo["placed_at"][0] and "out of range" in typo["placed_at"][0]
        assert "out of range" in early["placed_at"][0]

    def test_a_time_in_1970_locally_but_1969_in_utc_is_refused_saying_so(self, api, order_payload):
        edge = "1970-01-01T00:00:00+00:01"

        errors = assert_400_naming(post(api, "/api/v1/orders", order_with(order_payload, placed_at=edge)), "placed_at")

        assert "before 1970 in UTC" in errors["placed_at"][0] and "Year 1970" not in errors["placed_at"][0]

    def test_up_to_a_day_ahead_is_accepted_as_clock_skew(self, api, order_payload):
        ahead = timezone.now() + timedelta(hours=23)

        response = post(api, "/api/v1/orders", order_with(order_payload, placed_at=ahead.isoformat()))

        assert response.status_code == 201
        assert Order.objects.get().placed_at == ahead

    @pytest.mark.parametrize("offset", ["+23:59", "-23:59", "+15:59", "-16:00", "+05:30"])
    def test_any_offset_is_stored_as_the_same_instant_in_utc(self, api, order_payload, offset):
        value = f"2026-01-02T10:00:00{offset}"

        response = post(api, "/api/v1/orders", order_with(order_payload, placed_at=value))

        assert response.status_code == 201, response.content
        expected = datetime.fromisoformat(value).astimezone(UTC)
        assert Order.objects.get().placed_at == expected
        assert Customer.objects.get().first_seen_at == expected
        assert response.json()["placed_at"] == expected.isoformat().replace("+00:00", "Z")

    @pytest.mark.parametrize("offset", ["+23:59", "-23:59"])
    def test_events_and_refunds_take_any_offset_too(self, api, known_order, offset):
        event = post(api, "/api/v1/events", event_with(occurred_at=f"2026-01-02T10:00:00{offset}"))
        refund = post(
            api, "/api/v1/orders/1001/refunds", {"amount": "1.00", "refunded_at": f"2026-01-03T10:00:00{offset}"}
        )

        assert (event.status_code, refund.status_code) == (201, 201)
        assert Event.objects.get().occurred_at == datetime.fromisoformat(f"2026-01-02T10:00:00{offset}")
        assert Refund.objects.get().refunded_at == datetime.fromisoformat(f"2026-01-03T10:00:00{offset}")

    @pytest.mark.parametrize("birthday", ["0001-01-01", "1899-12-31", "9999-12-31"])
    def test_a_birthday_outside_1900_to_today_is_400(self, api, known_order, birthday):
        before = row_counts()

        for path, body in [
            ("/api/v1/customers", {"email": "ann@example.com", "birthday": birthday}),
            ("/api/v1/orders", order_with(known_order, customer={"email": "ann@example.com", "birthday": birthday})),
        ]:
            response = post(api, path, body)
            assert response.status_code == 400, response.content
            assert any(name.endswith("birthday") for name in response.json()["errors"])

        assert row_counts() == before
        assert Customer.objects.get().birthday is None

    def test_a_birthday_in_the_window_is_kept(self, api):
        response = post(api, "/api/v1/customers", {"email": "ann@example.com", "birthday": "1900-01-01"})

        assert response.status_code == 201
        assert Customer.objects.get().birthday == date(1900, 1, 1)


class TestMoney:
    def test_a_total_over_the_cap_is_400_and_writes_nothing(self, api, order_payload):
        body = order_with(order_payload, total="1000000000.01", lines=[])

        errors = assert_400_naming(post(api, "/api/v1/orders", body), "total")

        assert "1000000000.00" in errors["total"][0]
        assert row_counts() == dict.fromkeys(row_counts(), 0)

    def test_the_largest_order_is_accepted_and_its_customer_sums_still_fit(
        self, api, order_payload, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            for n in range(2):
                body = order_with(order_payload, external_id=f"big-{n}", total="1000000000.00", lines=[])
                assert post(api, "/api/v1/orders", body).status_code == 201

        customer = Customer.objects.get()
        assert str(customer.net_revenue) == "2000000000.00"
        profile = api.get(f"/api/v1/customers/{own_id(customer)}")
        assert profile.status_code == 200

    def test_the_base_currency_conversion_must_fit_the_cap_too(self, api, order_payload):
        ExchangeRate.objects.create(currency="EUR", rate_to_base="1.10")
        body = order_with(order_payload, currency="EUR", total="1000000000.00", lines=[])

        errors = assert_400_naming(post(api, "/api/v1/orders", body), "total")

        assert "USD" in errors["total"][0]
        assert Order.objects.count() == 0

    def test_lines_that_add_up_over_the_cap_are_400(self, api, order_payload):
        line = {"sku": "X", "name": "X", "quantity": 1_000_000, "unit_price": "999999999.99"}
        body = order_with(order_payload, total="999999999.99", lines=[line])

        assert_400_naming(post(api, "/api/v1/orders", body), "lines")
        assert row_counts() == dict.fromkeys(row_counts(), 0)

    def test_a_refund_over_the_cap_is_400(self, api, known_order):
        before = row_counts()

        assert_400_naming(post(api, "/api/v1/orders/1001/refunds", {"amount": "999999999999.99"}), "amount")

        assert row_counts() == before


class TestText:
    @pytest.mark.parametrize(
        ("path", "body", "field"),
        [
            ("/api/v1/customers", {"email": "ann@example.com", "tags": ["ok", "a\x00b"]}, "tags[1]"),
            ("/api/v1/orders", "order", "customer.tags[0]"),
            (
                "/api/v1/events",
                event_with(customer={"email": "ann@example.com", "tags": ["a\x00b"]}),
                "customer.tags[0]",
            ),
            (
                "/api/v1/tickets",
                {"customer": {"email": "ann@example.com", "tags": ["a\x00b"]}, "subject": "Hi", "message": "Hello"},
                "customer.tags[0]",
            ),
            ("/api/v1/events", event_with(payload={"note": ["a\x00b"]}), "payload.note[0]"),
            ("/api/v1/events", event_with(payload={"a\x00b": 1}), "payload"),
        ],
    )
    def test_nul_anywhere_is_400_naming_the_field(self, api, known_order, path, body, field):
        if body == "order":
            body = order_with(known_order, customer={"email": "ann@example.com", "tags": ["a\x00b"]})
        before = row_counts()

        assert_400_naming(post(api, path, body), field)

        assert row_counts() == before

    def test_a_bulk_item_with_nul_fails_alone_naming_the_field(self, api, order_payload):
        bad = order_with(order_payload, external_id="bad", customer={"email": "b@example.com", "tags": ["a\x00"]})

        response = post(api, "/api/v1/orders/bulk", {"orders": [order_payload, bad]})

        assert response.status_code == 200
        ok, failed = response.json()["results"]
        assert ok["status"] == "created"
        assert failed["status"] == "error" and list(failed["errors"]) == ["customer.tags[0]"]
        assert Customer.objects.count() == 1 and Tag.objects.count() == 0


# Every endpoint that reads a JSON body.
JSON_ENDPOINTS = [
    "/api/v1/orders",
    "/api/v1/orders/bulk",
    "/api/v1/orders/1001/refunds",
    "/api/v1/customers",
    "/api/v1/events",
    "/api/v1/segments/preview",
    "/api/v1/tickets",
    "/api/v1/reviews",
    "/api/v1/nps",
    "/api/v1/customers/{customer}/loyalty/redeem",
    "/api/v1/customers/{customer}/loyalty/referral",
    "/api/v1/loyalty/codes/NOPE/consume",
]


class TestBodies:
    @pytest.mark.parametrize("path", JSON_ENDPOINTS)
    @pytest.mark.parametrize(
        ("body", "says"),
        [
            (b'{"external_id": "\xff\xfe"}', "UTF-8"),
            (b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "32"),
            (b'{"payload": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001, "32"),
            (b'{"external_id": "x\\ud800"}', "without its pair"),
        ],
    )
    def test_bytes_that_cannot_be_read_are_400_saying_why(self, api, known_order, path, body, says):
        path = path.format(customer=Customer.objects.get().pk)
        before = row_counts()

        errors = assert_400_naming(post(api, path, body), "body")

        assert says in errors["body"][0]
        assert row_counts() == before

    @pytest.mark.parametrize(
        ("payload", "says"),
        [
            (json.loads('{"a": ' * 33 + "1" + "}" * 33), "32 levels"),
            ({f"k{i}": i for i in range(1001)}, "1000 keys"),
            ({"a": "x" * 10_001}, "10000 characters"),
            ({"x" * 10_001: 1}, "10000 characters"),
        ],
    )
    def test_a_free_form_payload_over_a_limit_is_400_saying_which(self, api, payload, says):
        response = post(api, "/api/v1/events", event_with(payload=payload))

        assert response.status_code == 400
        ((field, (message,)),) = response.json()["errors"].items()
        assert field.startswith("payload") and says in message
        assert row_counts() == dict.fromkeys(row_counts(), 0)

    def test_a_payload_at_the_limits_is_stored(self, api):
        payload = {"deep": json.loads('{"a": ' * 31 + "1" + "}" * 31), "long": "x" * 10_000}

        assert post(api, "/api/v1/events", event_with(payload=payload)).status_code == 201
        assert Event.objects.get().payload == payload

    @pytest.mark.parametrize(
        "rule",
        [
            json.loads('{"match": "all", "children": [' * 40 + "]}" * 40),
            {"match": "all", "children": [{"field": "country", "operator": "eq", "value": "D\x00E"}]},
            {"match": "all", "children": [{"field": "email", "operator": "contains", "value": "x" * 10_001}]},
        ],
    )
    def test_a_segment_rule_over_a_limit_is_400_on_rule(self, api, rule):
        assert_400_naming(post(api, "/api/v1/segments/preview", {"rule": rule}), "rule")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


FORGED_CURSORS = [
    b64("p=1 OR 1=1"),
    b64("p=99999999999999999999"),
    b64("p=-1"),
    b64("o=99999999999999999999&p=1"),
    b64("r=x&p=1"),
    "!!!not-base64",
    b64("p=\x00"),
    "%00",
]


class TestCursorsAndFilters:
    @pytest.fixture
    def paths(self, api, known_order):
        customer = Customer.objects.get()
        segment = segment_create(
            name="Germany", rule={"match": "all", "children": [{"field": "country", "operator": "eq", "value": "DE"}]}
        )
        return [
            "/api/v1/customers",
            "/api/v1/segments",
            f"/api/v1/segments/{segment.pk}/members",
            f"/api/v1/customers/{own_id(customer)}/tickets",
            "/api/v1/products/SKU-1/reviews",
            "/api/v1/loyalty/rewards",
        ]

    @pytest.mark.parametrize("cursor", FORGED_CURSORS)
    def test_a_forged_cursor_is_400_naming_it_on_every_paginated_endpoint(self, api, paths, cursor):
        for path in paths:
            assert api.get(path).status_code == 200, path
            assert_400_naming(api.get(f"{path}?cursor={cursor}"), "cursor")

    def test_a_real_cursor_still_pages(self, api, paths):
        for i in range(3):
            post(api, "/api/v1/customers", {"external_id": f"c{i}"})
        first = api.get("/api/v1/customers?page_size=2").json()

        second = api.get(first["next"])

        assert second.status_code == 200 and len(second.json()["results"]) == 2

    @pytest.mark.parametrize(
        "value",
        [
            "0001-01-01T00:00:00%2B15:00",
            "0001-01-01T00:00:00%2B23:59",
            "9999-12-31T23:59:59-15:59",
            "9999-12-31T23:59:59-23:59",
            "2026-01-01T00:00:00%2B24:00",
            "2026-13-01T00:00:00Z",
            "%00",
        ],
    )
    def test_an_updated_since_that_cannot_be_read_is_400_naming_it(self, api, known_order, value):
        assert_400_naming(api.get(f"/api/v1/customers?updated_since={value}"), "updated_since")

    @pytest.mark.parametrize(
        "query",
        [
            "country=%00",
            "email=a%00b",
            "external_id=%00",
            "min_orders=99999999999999999999999",
            "min_orders=1e999999",
            "min_orders=NaN",
            "marketing_consent=%00",
            "page_size=%00",
        ],
    )
    def test_other_filters_never_500(self, api, known_order, query):
        response = api.get(f"/api/v1/customers?{query}")

        assert response.status_code in (200, 400), response.content
        if response.status_code == 400:
            assert query.split("=")[0] in response.json()["errors"]


class TestOneTransaction:
    def test_a_customer_upsert_that_fails_half_way_leaves_nothing(self, api, monkeypatch):
        """The profile, the identity and the tags are several statements: one fails, none stays."""

        def fail(**kwargs):
            raise RuntimeError("the connection dropped")

        monkeypatch.setattr("customers.services.customers.customers_add_tags", fail)
        api.raise_request_exception = False

        response = post(api, "/api/v1/customers", {"external_id": "c-9", "email": "a@example.com", "tags": ["vip"]})

        assert response.status_code == 500
        assert row_counts() == dict.fromkeys(row_counts(), 0)
