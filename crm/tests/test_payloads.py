"""The payload parser: any bytes either decode to a valid order or fail with named fields."""

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.payloads import PayloadError, convert, decode
from crm.api.commerce.payloads import BulkOrdersIn, CustomerIn, OrderIn

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=20,
)
ORDER_KEYS = ["external_id", "placed_at", "currency", "total", "customer", "lines", "status", "subtotal"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(ORDER_KEYS), json_values, max_size=8))
def test_any_json_object_is_an_order_or_named_errors(body):
    try:
        order = decode(json.dumps(body).encode(), OrderIn)
    except PayloadError as exc:
        assert exc.errors and all(isinstance(m, str) for msgs in exc.errors.values() for m in msgs)
        assert all(field for field in exc.errors)
    else:
        assert order.to_data().external_id


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_are_refused_cleanly_or_decoded(raw):
    try:
        decode(raw, BulkOrdersIn)
    except PayloadError as exc:
        assert exc.errors


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"orders": []}', "orders"),
        (b"[]", "non_field_errors"),
        (b'{"external_id": "1"', "body"),
    ],
)
def test_error_fields(body, field):
    with pytest.raises(PayloadError) as exc:
        decode(body, BulkOrdersIn)
    assert field in exc.value.errors


MINIMAL_ORDER = {"external_id": "1", "placed_at": "2026-01-02T10:00:00Z", "currency": "USD", "total": "5.00"}


def test_a_shipping_address_is_kept_as_a_fingerprint_equal_for_the_same_place():
    def key(address):
        body = {**MINIMAL_ORDER, "customer": {"email": "a@example.com"}, "shipping_address": address}
        return decode(json.dumps(body).encode(), OrderIn).to_data().shipping_address_key

    same = key({"line1": "12 Rue de l'Église", "city": "Lyon", "postal_code": "69001"})
    assert same == key({"line1": "12 rue de l eglise", "city": "LYON", "postal_code": "69 001"})
    assert same != key({"line1": "14 rue de l eglise", "city": "Lyon", "postal_code": "69001"})
    assert len(same) == 64


@pytest.mark.parametrize(
    ("address", "field"),
    [
        ({"line1": "  "}, "shipping_address.line1"),
        ({"city": "Lyon"}, "shipping_address.line1"),
        ("x", "shipping_address"),
    ],
)
def test_a_bad_shipping_address_names_the_field(address, field):
    body = {**MINIMAL_ORDER, "customer": {"email": "a@example.com"}, "shipping_address": address}
    with pytest.raises(PayloadError) as caught:
        decode(json.dumps(body).encode(), OrderIn)
    assert field in caught.value.errors


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@example.com", "tags": ["ok", "a\x00b"]}, "tags[1]"),
        ({"email": "a@example.com", "first_name": "a\x00b"}, "first_name"),
        ({"email": "a@example.com", "last_name": "\ud800"}, "last_name"),
    ],
)
def test_text_that_postgresql_cannot_store_is_refused_from_csv_values_too(body, field):
    """``convert`` (CSV rows) reads no JSON bytes, so every string is checked."""
    with pytest.raises(PayloadError) as caught:
        convert(body, CustomerIn)
    assert list(caught.value.errors) == [field]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"email": "a@example.com", "tags": ["\\u0000"]}', "tags[0]"),
        (b'{"email": "a@example.com", "tags": ["ok", "x\\u0000"]}', "tags[1]"),
        (b'{"email": "a@example.com", "phone": "\\u0000"}', "phone"),
    ],
)
def test_an_escaped_nul_is_found_in_any_field_of_a_json_body(body, field):
    with pytest.raises(PayloadError) as caught:
        decode(body, CustomerIn)
    assert list(caught.value.errors) == [field]


def test_an_escaped_backslash_before_u0000_is_text_not_nul():
    """The byte scan sees \\u0000 here too, so the fields are checked, and pass."""
    customer = decode(b'{"email": "a@example.com", "tags": ["\\\\u0000"]}', CustomerIn)
    assert customer.tags == ["\\u0000"]


def test_every_value_problem_comes_back_at_once_under_its_path():
    """Value checks are data (``Problems``), not exceptions: one body gets all of them."""
    body = {
        "external_id": "o-1",
        "placed_at": "2099-01-01T00:00:00Z",
        "currency": "usd",
        "total": "-1.00",
        "customer": {"email": "not-an-email", "first_name": "A\u0000"},
        "lines": [
            {"sku": "MUG", "quantity": 1, "unit_price": "1.00"},
            {"quantity": 1, "unit_price": "1.001"},
        ],
    }

    with pytest.raises(PayloadError) as refused:
        decode(json.dumps(body).encode(), OrderIn)

    assert set(refused.value.errors) == {
        "placed_at",
        "total",
        "customer.email",
        "customer.first_name",
        "lines[1].unit_price",
        "lines[1].name",
    }
    assert refused.value.errors["lines[1].unit_price"] == ["At most 2 decimal places."]


def test_a_valid_body_is_normalised_by_its_checks():
    order = decode(
        json.dumps(
            {
                "external_id": "o-1",
                "placed_at": "2026-01-01T10:00:00+02:00",
                "currency": "usd",
                "total": "1.00",
                "customer": {"email": " a@example.com ", "country": "de"},
            }
        ).encode(),
        OrderIn,
    )

    assert (order.currency, order.placed_at.isoformat()) == ("USD", "2026-01-01T08:00:00+00:00")
    assert (order.customer.email, order.customer.country) == ("a@example.com", "DE")


def test_money_is_documented_as_a_decimal_string():
    from crm.api.schema import add_payload_components

    schemas = add_payload_components({}, None, None, True)["components"]["schemas"]

    assert schemas["OrderIn"]["properties"]["total"]["type"] == "string"
    assert schemas["OrderIn"]["properties"]["total"]["format"] == "decimal"
    assert schemas["LineIn"]["properties"]["unit_price"]["type"] == "string"
    assert schemas["RefundIn"]["properties"]["amount"]["type"] == "string"


def test_money_from_a_csv_is_read_from_its_text():
    order = convert({**MINIMAL_ORDER, "total": "5.00", "customer": {"email": "a@example.com"}}, OrderIn)

    assert order.total == Decimal("5.00")


def test_a_body_missing_everything_names_every_required_field():
    with pytest.raises(PayloadError) as refused:
        decode(b"{}", OrderIn)

    assert refused.value.errors == {
        name: ["This field is required."] for name in ("external_id", "placed_at", "currency", "total", "customer")
    }


def test_type_problems_and_value_problems_all_come_back_at_once_in_words():
    """msgspec stops at its first problem; the walk after it finds the others, the structs'
    own checks included, each under its path."""
    body = {
        "external_id": "o-1",
        "placed_at": "2026-01-02T10:00:00",
        "currency": "euro",
        "total": 10.0,
        "shipping_total": "-3",
        "status": "shipped",
        "customer": {"email": "not-an-email", "country": "Germany", "birthday": "1990-02-30"},
        "lines": [
            {"sku": "MUG", "quantity": 1, "unit_price": "1.00"},
            {"sku": "CUP", "quantity": "2", "unit_price": "1.00"},
            {"sku": "PEN", "quantity": 0},
        ],
    }

    with pytest.raises(PayloadError) as refused:
        decode(json.dumps(body).encode(), OrderIn)

    assert refused.value.errors == {
        "placed_at": ['Give the time-zone offset too, such as "2026-01-02T10:00:00Z" or "2026-01-02T11:00:00+01:00".'],
        "currency": ["Must be a three-letter currency code such as USD."],
        "total": [
            'Send money as a string such as "10.00", not as a number: a number may have been rounded on its way.'
        ],
        "shipping_total": ["Must be at least 0."],
        "status": ["Must be one of: placed, paid, fulfilled, cancelled or refunded."],
        "customer.email": ["Enter a valid email address."],
        "customer.country": ["Must be a two-letter country code such as DE, or empty."],
        "customer.birthday": ['Not a calendar date: use YYYY-MM-DD, such as "1990-02-28".'],
        "lines[1].quantity": ["Must be a whole number, not text."],
        "lines[2].quantity": ["Must be at least 1."],
        "lines[2].unit_price": ["This field is required."],
    }
    assert refused.value.message.endswith("(and 10 more problems: see errors)")


def test_a_nested_value_of_the_wrong_kind_is_named_with_the_rest():
    body = {**MINIMAL_ORDER, "total": "-1", "customer": 5, "lines": "MUG", "shipping_address": []}

    with pytest.raises(PayloadError) as refused:
        decode(json.dumps(body).encode(), OrderIn)

    assert refused.value.errors == {
        "total": ["Must be at least 0."],
        "customer": ["Must be an object, not a number."],
        "shipping_address": ["Must be an object, not a list."],
        "lines": ["Must be a list, not text."],
    }


def test_a_csv_row_s_values_are_walked_too():
    with pytest.raises(PayloadError) as refused:
        convert(
            {**MINIMAL_ORDER, "currency": "euro", "customer": {"email": "a@example.com", "country": "Germany"}}, OrderIn
        )

    assert refused.value.errors == {
        "currency": ["Must be a three-letter currency code such as USD."],
        "customer.country": ["Must be a two-letter country code such as DE, or empty."],
    }
    assert refused.value.unread == {"currency", "customer.country"}


def test_an_empty_body_says_so():
    with pytest.raises(PayloadError) as refused:
        decode(b"", OrderIn)

    assert refused.value.errors == {"body": ["The body is empty: send a JSON object, with a Content-Length header."]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"external_id": "1", ', "Malformed JSON: the body ends before the JSON does."),
        (b'{"external_id": tru}', "Malformed JSON: invalid character at byte 20."),
        (b'{"total": 1e400}', "Malformed JSON: a number is too large to be read."),
    ],
)
def test_a_body_that_is_not_json_says_where_in_words(body, message):
    with pytest.raises(PayloadError) as refused:
        decode(body, OrderIn)

    assert refused.value.errors == {"body": [message]}
