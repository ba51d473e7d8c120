"""Every message a refused body gets is words for a person, under the field's path.

A catalogue of wrong values per kind of field (text, whole number, money, date, list, ...)
is walked over every field of every request body the API takes: the fields are read from
the structs themselves, so a new field or a new body is covered without a change here (a
kind of field the catalogue has no wrong values for fails the test, saying so). Each wrong
value is put into an otherwise valid body, and the 400's errors must name that field's
path only, in messages that show no regular expression, no Python or msgspec type name and
no library's wording.
"""

import copy
import json
import re
from datetime import date, datetime
from decimal import Decimal
from importlib import import_module
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
import pytest

from core.payloads import Payload, PayloadError, decode

ROOT = Path(__file__).resolve().parents[2]

# Import every app's payload module, so every body struct is a subclass of Payload below.
for module in sorted(ROOT.glob("**/payloads.py")):
    relative = module.relative_to(ROOT)
    if relative.parts[0] not in (".venv", "core") and "tests" not in relative.parts:
        import_module(".".join(relative.with_suffix("").parts))

CUSTOMER = {"external_id": "c-1", "email": "ann@example.com"}
LINE = {"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": "5.00"}
ORDER = {
    "external_id": "o-1",
    "placed_at": "2026-01-02T10:00:00Z",
    "currency": "USD",
    "total": "5.00",
    "customer": CUSTOMER,
    "lines": [LINE],
    "shipping_address": {"line1": "1 Main Street"},
}
# A valid body of each struct; a struct missing here fails test_every_body_struct_has_a_valid_body.
VALID: dict[str, dict[str, Any]] = {
    "CustomerIn": CUSTOMER,
    "LineIn": LINE,
    "AddressIn": {"line1": "1 Main Street"},
    "OrderIn": ORDER,
    "BulkOrdersIn": {"orders": [ORDER]},
    "BulkOrdersDoc": {"orders": [ORDER]},
    "RefundIn": {"amount": "1.00", "external_id": "r-1"},
    "EventIn": {"type": "cart_abandoned", "customer": CUSTOMER, "payload": {"cart": 1}},
    "ProductIn": {"sku": "MUG"},
    "ProductsIn": {"products": [{"sku": "MUG"}]},
    "TicketIn": {"customer": CUSTOMER, "subject": "Where is my order?", "message": "It has not come."},
    "TicketMessageIn": {"message": "Any news?"},
    "ReviewIn": {"customer": CUSTOMER, "sku": "MUG", "rating": 5},
    "NpsIn": {"customer": CUSTOMER, "score": 9},
    "SubscriptionIn": {"email": "ann@example.com", "consent": True},
    "RedeemIn": {"reward_id": 1},
    "ConsumeIn": {},
    "AdjustIn": {"points": 5, "reason": "Goodwill"},
    "ReferralIn": {"referral_code": "ANN123"},
    "SegmentPreviewIn": {"rule": {"match": "all", "children": []}},
}
NOT_BODIES = {"_ExternalIdOnly"}  # read from a refused bulk item, never refused itself

# The decoder's and Python's words, which a client must never see.
INTERNALS = re.compile(
    r"`|\bExpected\b|\bregex\b|RFC\s?3339|msgspec|\bStruct\b|object of type|NoneType|\bstr\b|\bint\b|"
    r"\bfloat\b|\bbool\b|\bdict\b|\bDecimal\b|\bdatetime\b|\barray\b|\bnull_?\w*\(|\$\.|"
    r"\[A-Z|\[a-z|\\d|\{\d+,\d*\}|\^\(|\)\?\$|Traceback|Error\b"
)


def body_structs() -> list[type[Payload]]:
    found, todo = [], list(Payload.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__name__ not in NOT_BODIES:
            found.append(cls)
    return sorted(found, key=lambda cls: cls.__name__)


def unwrap(type_: Any) -> tuple[Any, list[msgspec.Meta], bool]:
    """(the field's type, its constraints, whether null is allowed)."""
    metas: list[msgspec.Meta] = []
    nullable = False
    while True:
        if get_origin(type_) is Annotated:
            type_, *extra = get_args(type_)
            metas.extend(m for m in extra if isinstance(m, msgspec.Meta))
        elif get_origin(type_) is Union or type(type_).__name__ == "UnionType":
            members = [m for m in get_args(type_) if m is not msgspec.UnsetType]
            nullable = nullable or type(None) in members
            rest = [m for m in members if m is not type(None)]
            if len(rest) != 1:
                return type_, metas, nullable
            type_ = rest[0]
        else:
            return type_, metas, nullable


def constraint(metas: list[msgspec.Meta], name: str) -> Any:
    return next((getattr(m, name) for m in metas if getattr(m, name) is not None), None)


SCALAR_WRONG = [5, 1.5, True, [], {}, "text"]


def wrong_values(type_: Any, metas: list[msgspec.Meta], nullable: bool) -> list[Any]:
    """The catalogue: values a client may send by mistake for a field of this kind."""
    values: list[Any] = [] if nullable else [None]
    origin = get_origin(type_)
    if origin is Literal:
        return [*values, "no-such-choice", 3, [], {}]
    if origin is list:
        (item,) = get_args(type_)
        longest = constraint(metas, "max_length")
        values += ["text", 5, {}]
        if constraint(metas, "min_length"):
            values.append([])
        if longest is not None:
            values.append([None] * (longest + 1))
        item_type, item_metas, item_nullable = unwrap(item)
        if item_type is msgspec.Raw:
            return values
        if isinstance(item_type, type) and issubclass(item_type, msgspec.Struct):
            return values  # its fields are walked at [0]
        return values + [[wrong] for wrong in wrong_values(item_type, item_metas, item_nullable)]
    if origin is dict or type_ is dict:
        deep: Any = 1
        for _ in range(40):
            deep = {"a": deep}
        return [*values, [], "text", 5, deep, {"a": "\u0000"}, {"k" * 20_000: 1}]
    if not isinstance(type_, type):
        raise AssertionError(f"The catalogue has no wrong values for {type_!r}: add them.")
    if issubclass(type_, msgspec.Struct):
        return [*values, 5, "text", [], True]
    if issubclass(type_, bool):
        return [*values, "yes", 1, 0.0, [], {}]
    if issubclass(type_, int):
        values += ["5", 1.5, True, [], {}, 10**30, -(10**30)]
        for name, step in (("ge", -1), ("gt", 0), ("le", 1), ("lt", 0)):
            if (bound := constraint(metas, name)) is not None:
                values.append(bound + step)
        return values
    if issubclass(type_, Decimal):
        return [*values, 10.0, 10, 0.1, True, [], {}, "abc", "", "NaN", "-Infinity", "-1", "1.001", "1e30"]
    if issubclass(type_, datetime):
        return [
            *values,
            *SCALAR_WRONG[:5],
            "2026-01-02",
            "2026-01-02T10:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-30T10:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59+14:00",
            "yesterday",
        ]
    if issubclass(type_, date):
        return [*values, *SCALAR_WRONG[:5], "1990-02-30", "30/02/1990", "1899-12-31", "2999-01-01", "yesterday"]
    if issubclass(type_, str):
        values += [5, 1.5, True, [], {}, "\u0000"]
        if (longest := constraint(metas, "max_length")) is not None:
            values.append("x" * (longest + 1))
        if constraint(metas, "min_length"):
            values.append("")
        if constraint(metas, "pattern"):
            values += ["Germany", "no such value!", "12"]
        return values
    raise AssertionError(f"The catalogue has no wrong values for {type_!r}: add them.")


def fields_of(cls: type, body: dict, path: tuple) -> list[tuple[tuple, Any, list, bool]]:
    """Every field of ``cls`` at ``path``, nested structs' fields included (filling ``body``
    with a valid nested value where the field is absent)."""
    found = []
    for field in msgspec.structs.fields(cls):
        type_, metas, nullable = unwrap(field.type)
        here = (*path, field.encode_name)
        found.append((here, type_, metas, nullable))
        if isinstance(type_, type) and issubclass(type_, msgspec.Struct):
            body.setdefault(field.encode_name, copy.deepcopy(VALID[type_.__name__]))
            found += fields_of(type_, body[field.encode_name], here)
        elif get_origin(type_) is list:
            item_type, _, _ = unwrap(get_args(type_)[0])
            if isinstance(item_type, type) and issubclass(item_type, msgspec.Struct):
                items = body.setdefault(field.encode_name, [])
                if not items:
                    items.append(copy.deepcopy(VALID[item_type.__name__]))
                found += fields_of(item_type, items[0], (*here, 0))
    return found


def path_name(path: tuple) -> str:
    name = ""
    for part in path:
        name = f"{name}[{part}]" if isinstance(part, int) else f"{name}.{part}" if name else part
    return name


def put(body: dict, path: tuple, value: Any) -> dict:
    body = copy.deepcopy(body)
    where: Any = body
    for part in path[:-1]:
        where = where[part]
    where[path[-1]] = value
    return body


def cases():
    for cls in body_structs():
        base = copy.deepcopy(VALID.get(cls.__name__, {}))
        for path, type_, metas, nullable in fields_of(cls, base, ()):
            for value in wrong_values(type_, metas, nullable):
                yield cls, base, path, value


def test_every_write_endpoint_s_body_is_a_struct_walked_here():
    """The request body of every POST, PUT and PATCH in the OpenAPI schema is one of the
    structs the catalogue walks: a new endpoint's body is covered, or this fails."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    walked = {cls.__name__ for cls in body_structs()}
    bodies = {}
    for path, operations in schema["paths"].items():
        for method in ("post", "put", "patch"):
            content = operations.get(method, {}).get("requestBody", {}).get("content", {})
            if ref := content.get("application/json", {}).get("schema", {}).get("$ref"):
                bodies[f"{method.upper()} {path}"] = ref.rsplit("/", 1)[1]
    assert len(bodies) >= 16
    assert {endpoint: name for endpoint, name in bodies.items() if name not in walked} == {}


def test_every_body_struct_has_a_valid_body():
    for cls in body_structs():
        assert cls.__name__ in VALID, f"Add a valid body of {cls.__name__} to VALID"
        decode(json.dumps(VALID[cls.__name__]).encode(), cls)


@pytest.mark.parametrize("cls", body_structs(), ids=lambda cls: cls.__name__)
def test_every_wrong_value_of_every_field_is_refused_in_words_under_its_path(cls):
    base = copy.deepcopy(VALID[cls.__name__])
    refused = 0
    for path, type_, metas, nullable in fields_of(cls, base, ()):
        name = path_name(path)
        for value in wrong_values(type_, metas, nullable):
            body = json.dumps(put(base, path, value), ensure_ascii=True).encode()
            try:
                decode(body, cls)
            except PayloadError as exc:
                refused += 1
                errors = exc.errors
            else:
                continue  # a value this field happens to take (an empty country, say)
            sent = f"{name} = {json.dumps(value)[:60]}"
            for key, messages in errors.items():
                assert key == name or key.startswith((f"{name}.", f"{name}[")), (sent, errors)
                for message in messages:
                    assert not INTERNALS.search(message), (sent, message)
                    assert message[:1].isupper() and message.endswith("."), (sent, message)
                    assert len(message) < 300, (sent, message)
    assert refused or not msgspec.structs.fields(cls)


MONEY_AS_NUMBER = 'Send money as a string such as "10.00", not as a number: a number may have been rounded on its way.'


def test_money_sent_as_a_json_number_is_refused_in_every_money_field():
    """Binary floats are never taken for money: every money field (found from the structs)
    refuses a number, saying to send a string."""
    refused = set()
    for cls in body_structs():
        base = copy.deepcopy(VALID[cls.__name__])
        for path, type_, _, _ in fields_of(cls, base, ()):
            if not (isinstance(type_, type) and issubclass(type_, Decimal)):
                continue
            for number in (10.0, 10, 0.1, 1e2):
                with pytest.raises(PayloadError) as caught:
                    decode(json.dumps(put(base, path, number)).encode(), cls)
                assert caught.value.errors == {path_name(path): [MONEY_AS_NUMBER]}
            refused.add(f"{cls.__name__}.{path_name(path)}")
    assert {
        "OrderIn.total",
        "OrderIn.subtotal",
        "OrderIn.discount_total",
        "OrderIn.shipping_total",
        "OrderIn.tax_total",
        "OrderIn.lines[0].unit_price",
        "BulkOrdersDoc.orders[0].total",
        "RefundIn.amount",
        "ProductsIn.products[0].price",
    } <= refused


def test_every_pattern_has_words():
    """A pattern's message is its words (``core.payloads.Pattern``), never the pattern."""
    for cls in body_structs():
        for field in msgspec.structs.fields(cls):
            _, metas, _ = unwrap(field.type)
            if constraint(metas, "pattern"):
                assert any(m.extra and m.extra.get("words") for m in metas), f"{cls.__name__}.{field.name}"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("country", "Germany", "Must be a two-letter country code such as DE, or empty."),
        ("birthday", "1990-02-30", 'Not a calendar date: use YYYY-MM-DD, such as "1990-02-28".'),
        ("first_name", 5, "Must be text, not a number."),
        ("first_name", 5.0, "Must be text, not 5.0, a number with a decimal point."),
        ("marketing_consent", "yes", "Must be true or false, not text."),
        ("tags", "vip", "Must be a list, not text."),
        ("tags", ["x" * 65], "Must be at most 64 characters long."),
    ],
)
def test_the_issue_s_examples_read_as_words(field, value, message):
    with pytest.raises(PayloadError) as refused:
        decode(json.dumps({**CUSTOMER, field: value}).encode(), VALID_TYPES["CustomerIn"])

    assert list(refused.value.errors.values()) == [[message]]


VALID_TYPES = {cls.__name__: cls for cls in body_structs()}


@pytest.mark.parametrize("sent", [" 10.00 ", "+10.00", "1_0.00", "1e1", "١٠.٠٠", "10.", ".5", "NaN", "Infinity"])
def test_money_is_digits_and_one_point_as_the_docs_say(api, order_payload, sent):
    response = api.post("/api/v1/orders", order_payload | {"total": sent}, format="json")

    assert response.status_code == 400 and list(response.json()["errors"]) == ["total"]


def test_negative_zero_money_is_read_as_zero(api, order_payload):
    body = order_payload | {"shipping_total": "-0.00"}

    response = api.post("/api/v1/orders", body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["shipping_total"] == "0.00"
