"""Property tests through HTTP with the hostile strategies (tests/strategies.py): every such
request is a 2xx, or a 4xx that names a field and leaves no row behind; never a 5xx."""

import base64
import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ORDER
from customers.models import Customer, CustomerIdentity, Event, ExchangeRate, Order, OrderLine, Product, Refund, Tag
from tests.strategies import datetimes_text, hostile_bodies, hostile_text

pytestmark = pytest.mark.django_db

ROWS = (Customer, CustomerIdentity, Order, OrderLine, Event, Refund, Product, Tag)
FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in ROWS}


def assert_answered_cleanly(response, before: dict[str, int]) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        errors = response.json()["errors"]
        assert errors and all(field and messages for field, messages in errors.items()), errors
        if response.status_code == 400:
            assert row_counts() == before


@pytest.fixture
def eur(db):
    ExchangeRate.objects.create(currency="EUR", rate_to_base="1.10")


ORDER_PLAIN = {**copy.deepcopy(ORDER), "lines": []}
EVENT = {"type": "product_viewed", "customer": {"email": "ann@example.com"}, "payload": {"sku": "A"}}
CUSTOMER = {"external_id": "c-1", "email": "ann@example.com", "first_name": "Ann"}


@FUZZ
@given(
    body=hostile_bodies(
        ORDER_PLAIN,
        datetimes=(("placed_at",),),
        money=(("total",), ("shipping_total",), ("discount_total",)),
        texts=(("customer", "first_name"), ("external_id",), ("discount_code",)),
    ),
    currency=st.sampled_from(["USD", "EUR"]),
)
def test_hostile_orders(api, eur, body, currency):
    body = body.replace(b'"currency": "USD"', f'"currency": "{currency}"'.encode())
    before = row_counts()
    assert_answered_cleanly(api.post("/api/v1/orders", body, content_type="application/json"), before)


@FUZZ
@given(body=hostile_bodies({"orders": [ORDER_PLAIN]}, dates=(), texts=(), tags=("orders",), free_form=("orders",)))
def test_hostile_bulk_envelopes(api, body):
    before = row_counts()
    assert_answered_cleanly(api.post("/api/v1/orders/bulk", body, content_type="application/json"), before)


@FUZZ
@given(body=hostile_bodies(EVENT, datetimes=(("occurred_at",),), texts=(("payload", "sku"),), free_form=("payload",)))
def test_hostile_events(api, body):
    before = row_counts()
    assert_answered_cleanly(api.post("/api/v1/events", body, content_type="application/json"), before)


@FUZZ
@given(body=hostile_bodies({"amount": "1.00"}, dates=(), datetimes=(("refunded_at",),), money=(("amount",),)))
def test_hostile_refunds(api, body):
    if not Order.objects.exists():
        assert api.post("/api/v1/orders", ORDER_PLAIN, format="json").status_code == 201
    before = row_counts()
    assert_answered_cleanly(api.post("/api/v1/orders/1001/refunds", body, content_type="application/json"), before)


@FUZZ
@given(
    body=hostile_bodies(
        CUSTOMER,
        dates=(("birthday",),),
        texts=(("first_name",), ("phone",), ("email",)),
        tags=("tags",),
    )
)
def test_hostile_customers(api, body):
    before = row_counts()
    assert_answered_cleanly(api.post("/api/v1/customers", body, content_type="application/json"), before)


@FUZZ
@given(
    rule=hostile_bodies(
        {"match": "all", "children": [{"field": "country", "operator": "eq", "value": "DE"}]},
        dates=(),
        texts=(("match",),),
        tags=("children",),
        free_form=("children",),
    )
)
def test_hostile_segment_rules(api, rule):
    body = b'{"rule": ' + rule + b"}"
    response = api.post("/api/v1/segments/preview", body, content_type="application/json")
    assert_answered_cleanly(response, row_counts())


# What a URL can carry: no lone surrogates (the client could not even encode them).
url_text = hostile_text().filter(lambda text: not any("\ud800" <= c <= "\udfff" for c in text))

cursors = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
    st.builds(
        lambda o, r, p: base64.b64encode(f"o={o}&r={r}&p={p}".encode()).decode(),
        st.one_of(st.integers(-5, 10**20), url_text),
        st.one_of(st.integers(-1, 2), url_text),
        st.one_of(st.integers(-(2**64), 2**64), url_text),
    ),
)


@FUZZ
@given(cursor=cursors, path=st.sampled_from(["/api/v1/customers", "/api/v1/segments", "/api/v1/loyalty/rewards"]))
def test_forged_cursors(api, cursor, path):
    response = api.get(path, {"cursor": cursor})

    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert list(response.json()["errors"]) == ["cursor"]


@FUZZ
@given(
    query=st.one_of(
        datetimes_text().map(lambda v: {"updated_since": v}),
        url_text.map(lambda v: {"updated_since": v}),
        url_text.map(lambda v: {"country": v}),
        url_text.map(lambda v: {"email": v}),
        url_text.map(lambda v: {"external_id": v}),
        st.one_of(st.integers(-(2**70), 2**70).map(str), url_text).map(lambda v: {"min_orders": v}),
        st.one_of(st.integers(-(2**70), 2**70).map(str), url_text).map(lambda v: {"page_size": v}),
    )
)
def test_hostile_filters(api, query):
    response = api.get("/api/v1/customers", query)

    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert set(response.json()["errors"]) <= set(query)
