"""Segment rules: validation that names the condition, one SQL query that matches what the
rule says, a sentence, and random trees that compile or are refused cleanly."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from functools import partial

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.segments.compiler import matching
from campaigns.segments.registry import fields
from campaigns.segments.rules import MAX_CONDITIONS, MAX_DEPTH, RuleError, parse
from campaigns.segments.sentence import sentence
from customers.models import Customer, Event, Tag
from customers.services.recompute import customers_recompute
from customers.tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ShopFactory

pytestmark = pytest.mark.django_db

EXAMPLE = {
    "match": "all",
    "children": [
        {"field": "country", "operator": "eq", "value": "DE"},
        {
            "match": "any",
            "children": [
                {"field": "spent", "operator": "gte", "value": 200, "within_days": 90},
                {"field": "stage", "operator": "eq", "value": "at_risk"},
            ],
        },
    ],
}


def rule(*children, match="all", negate=False):
    return {"match": match, "negate": negate, "children": list(children)}


def errors_of(data) -> list[str]:
    with pytest.raises(RuleError) as caught:
        parse(data)
    return caught.value.errors


@pytest.mark.parametrize(
    "data,message",
    [
        (
            rule({"field": "shoe_size", "operator": "eq", "value": 42}),
            "condition 1 of the rule: unknown field 'shoe_size'",
        ),
        (
            rule({"field": "country", "operator": "gt", "value": "DE"}),
            "condition 1 of the rule (country): operator 'gt' does not apply; use one of eq, ne, in",
        ),
        (rule({"field": "orders_count", "operator": "gte", "value": "many"}), "(orders): 'many' is not a number"),
        (rule({"field": "orders_count", "operator": "gte", "value": True}), "(orders): True is not a number"),
        (rule({"field": "orders_count", "operator": "gte", "value": float("nan")}), "nan is not a number"),
        (rule({"field": "stage", "operator": "eq", "value": "sleepy"}), "(lifecycle stage): 'sleepy' is not one of"),
        (rule({"field": "first_seen", "operator": "before", "value": "yesterday"}), "is not a date (YYYY-MM-DD)"),
        (rule({"field": "birthday_month", "operator": "eq", "value": 13}), "13 is not a month (1–12)"),
        (
            rule({"field": "first_seen", "operator": "after", "value": "9999-12-31"}),
            "9999-12-31 is not between 1900-01-01 and 2999-12-31",
        ),
        (rule({"field": "p_alive", "operator": "between", "value": [0.9, 0.1]}), "0.9 is after 0.1; give [from, to]"),
        (rule({"field": "spent", "operator": "gte", "value": 10}), "(spent): give the time window as within_days"),
        (rule({"field": "country", "operator": "eq", "value": "DE", "within_days": 3}), "takes no time window"),
        (
            rule({"field": "spent", "operator": "gte", "value": 10, "within_days": 0}),
            "the window must be a whole number of days from 1 to 3650",
        ),
        (rule({"field": "orders_count", "operator": "is_set", "value": 3}), "is_set takes no value"),
        (rule({"field": "country", "operator": "in", "value": []}), "expected a list of 1 to 100 values"),
        (
            rule(rule({"field": "country", "operator": "eq"})),
            "condition 1 of group 1 of the rule (country): a value is required",
        ),
        ({"match": "all", "children": []}, "the rule: a group needs a non-empty list of children"),
        ({"match": "both", "children": [{"field": "country", "operator": "is_set"}]}, 'match must be "all"'),
        ("country = DE", "the rule: expected a group"),
        (rule(*[{"field": "country", "operator": "is_set"}] * (MAX_CONDITIONS + 1)), "at most 50 are allowed"),
    ],
)
def test_a_bad_rule_is_refused_with_a_message_naming_the_condition(data, message):
    assert any(message in error for error in errors_of(data)), errors_of(data)


JUNK_VALUES = [None, True, 0, -1, 1e12, -1e12, 1e308, "", "x", [], [1], [[1]], [None, None], {"a": 1}, [{"a": 1}, 2]]


@pytest.mark.parametrize("name", sorted(fields()))
def test_every_field_and_operator_takes_any_value_or_refuses_it_cleanly(name):
    spec = fields()[name]
    window = {"within_days": 7} if spec.window else {}
    for operator in spec.operators:
        for value in JUNK_VALUES:
            condition = {"field": name, "operator": operator, "value": value, **window}
            try:
                parsed = parse(rule(condition))
            except RuleError as error:
                assert error.errors
                continue
            matching(parsed).count()  # an accepted value also runs on the database


def test_a_tree_too_deep_is_refused():
    data = {"field": "country", "operator": "is_set"}
    for _ in range(MAX_DEPTH + 1):
        data = rule(data)

    assert any(f"nested at most {MAX_DEPTH} deep" in e for e in errors_of(data))


def test_every_problem_is_reported_at_once():
    data = rule({"field": "nope", "operator": "eq", "value": 1}, {"field": "country", "operator": "gt", "value": 1})

    assert len(errors_of(data)) == 2


def test_the_rule_reads_as_a_sentence():
    assert sentence(parse(EXAMPLE)) == (
        "customers where country is DE AND (spent ≥ 200 USD in the last 90 days OR lifecycle stage is at risk)"
    )
    negated = rule({"field": "event", "operator": "eq", "value": "cart_abandoned", "within_hours": 24}, negate=True)
    assert sentence(parse(negated)) == "customers where NOT (had event cart_abandoned in the last 24 hours)"


@pytest.fixture
def shop_data():
    """Customers whose memberships differ by one fact each."""
    now = timezone.now()
    shop = ShopFactory()
    people = {
        name: CustomerFactory(country=country)
        for name, country in [
            ("big_de", "DE"),
            ("small_de", "DE"),
            ("old_big_de", "DE"),
            ("big_fr", "FR"),
            ("nobody_de", "DE"),
        ]
    }
    OrderFactory(shop=shop, customer=people["big_de"], total=Decimal("250"), placed_at=now - timedelta(days=10))
    OrderFactory(shop=shop, customer=people["small_de"], total=Decimal("50"), placed_at=now - timedelta(days=10))
    OrderFactory(shop=shop, customer=people["old_big_de"], total=Decimal("900"), placed_at=now - timedelta(days=200))
    line_order = OrderFactory(
        shop=shop, customer=people["big_fr"], total=Decimal("300"), placed_at=now - timedelta(days=5)
    )
    OrderLineFactory(order=line_order, sku="MUG-1")
    Event.objects.create(
        shop=shop, customer=people["nobody_de"], type="cart_abandoned", occurred_at=now - timedelta(hours=3)
    )
    vip = Tag.objects.create(name="vip")
    people["small_de"].tags.add(vip)
    customers_recompute(customer_ids=[c.pk for c in people.values()])
    return people


def names(queryset, people) -> set[str]:
    ids = set(queryset.values_list("pk", flat=True))
    return {name for name, c in people.items() if c.pk in ids}


@pytest.mark.parametrize(
    "data,expected",
    [
        (EXAMPLE, {"big_de", "old_big_de"}),  # old_big_de: one order 200 days ago → at risk
        (rule({"field": "spent", "operator": "gte", "value": 200, "within_days": 90}), {"big_de", "big_fr"}),
        # Spent below 100 includes customers who spent nothing in the window.
        (
            rule({"field": "spent", "operator": "lt", "value": 100, "within_days": 90}),
            {"small_de", "old_big_de", "nobody_de"},
        ),
        (
            rule({"field": "orders_in_window", "operator": "eq", "value": 0, "within_days": 30}),
            {"old_big_de", "nobody_de"},
        ),
        (rule({"field": "bought_sku", "operator": "in", "value": ["MUG-1"], "within_days": 30}), {"big_fr"}),
        (
            rule({"field": "event", "operator": "eq", "value": "cart_abandoned", "within_hours": 24}),
            {"nobody_de"},
        ),
        (
            rule(
                {"field": "tags", "operator": "not_in", "value": ["vip"]},
                {"field": "country", "operator": "eq", "value": "DE"},
            ),
            {"big_de", "old_big_de", "nobody_de"},
        ),
        (rule({"field": "days_since_last_order", "operator": "gt", "value": 100}), {"old_big_de"}),
        (
            rule({"field": "stage", "operator": "in", "value": ["new", "prospect"]}),
            {"big_de", "small_de", "big_fr", "nobody_de"},
        ),
        (
            rule(
                {"field": "country", "operator": "eq", "value": "FR"},
                rule(
                    {"field": "orders_count", "operator": "is_set"},
                    {"field": "net_revenue", "operator": "lt", "value": 100},
                ),
                match="any",
            ),
            {"big_fr", "small_de", "nobody_de"},
        ),
        (rule({"field": "country", "operator": "eq", "value": "DE"}, negate=True), {"big_fr"}),
    ],
)
def test_a_rule_matches_exactly_the_customers_it_describes(shop_data, data, expected):
    assert names(matching(parse(data)), shop_data) == expected


def test_a_rule_is_one_sql_query(shop_data):
    with CaptureQueriesContext(connection) as queries:
        assert matching(parse(EXAMPLE)).count() == 2

    assert len(queries) == 1


def _good_value(spec, operator):
    one = {
        "text": st.text(min_size=1, max_size=12).filter(str.strip),
        "tags": st.sampled_from(["vip", "wholesale"]),
        "window_items": st.sampled_from(["MUG-1", "cups"]),
        "event": st.sampled_from(["cart_abandoned", "viewed"]),
        "choice": st.sampled_from([v for v, _ in spec.choice_list()] or ["x"]),
        "number": st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-1000, 1000),
        "window_number": st.integers(0, 1000),
        "percent": st.integers(0, 100) | st.floats(0, 100),
        "month": st.integers(1, 12),
        "date": st.dates(date(1900, 1, 1), date(2999, 12, 31)).map(lambda d: d.isoformat()),
        "bool": st.booleans(),
    }[spec.type]
    if spec.type == "date" and operator == "in_last_days":
        return st.integers(1, 400)
    if operator in ("in", "not_in"):
        return st.lists(one, min_size=1, max_size=3)
    if operator == "between":
        return st.lists(one, min_size=2, max_size=2).map(sorted)
    return one


JUNK = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8), st.lists(st.integers()))


@st.composite
def conditions(draw):
    """Mostly well-formed conditions on every registered field; some with one thing wrong."""
    spec = draw(st.sampled_from(list(fields().values())))
    operator = draw(st.sampled_from(spec.operators))
    data = {"field": spec.name, "operator": operator}
    if operator not in ("is_set", "is_not_set"):
        data["value"] = draw(_good_value(spec, operator))
    if spec.window:
        hours = spec.window == "days_or_hours" and draw(st.booleans())
        data["within_hours" if hours else "within_days"] = draw(st.integers(1, 400))
    if draw(st.integers(0, 4)) == 0:  # one thing wrong, or junk where a value goes
        key = draw(st.sampled_from(["field", "operator", "value", "within_days", "within_hours", "extra"]))
        data[key] = draw(JUNK)
    return data


trees = st.recursive(
    conditions(),
    lambda children: st.fixed_dictionaries(
        {
            "match": st.sampled_from(["all", "any", "all", "any", "some"]),
            "children": st.lists(children, min_size=1, max_size=4),
        },
        optional={"negate": st.booleans()},
    ),
    max_leaves=12,
).map(lambda tree: tree if "children" in tree else rule(tree))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=trees)
def test_random_rules_compile_to_a_working_query_or_are_refused_cleanly(shop_data, data):
    try:
        parsed = parse(data)
    except RuleError as error:
        assert error.errors and all(isinstance(e, str) and e for e in error.errors)
        return
    matching(parsed).count()  # runs on the database without error
    assert sentence(parsed).startswith("customers where ")
    assert parse(parsed.as_json()) == parsed  # the stored form reads back the same


TOTALS = st.fixed_dictionaries(
    {
        "field": st.sampled_from(["spent", "orders_in_window"]),
        "operator": st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte"]),
        "value": st.sampled_from([0, 1, 50, 100, 200, 300]),
        "within_days": st.sampled_from([7, 30, 90, 365]),
    }
)
PLAIN = st.sampled_from(
    [
        {"field": "country", "operator": "eq", "value": "DE"},
        {"field": "country", "operator": "ne", "value": "DE"},
        {"field": "stage", "operator": "in", "value": ["new", "at_risk"]},
        {"field": "tags", "operator": "in", "value": ["vip"]},
    ]
)
# Valid rules that mix windowed totals with plain siblings, nested and negated.
MIXED = st.recursive(
    TOTALS | PLAIN,
    lambda children: st.fixed_dictionaries(
        {
            "match": st.sampled_from(["all", "any"]),
            "negate": st.booleans(),
            "children": st.lists(children, min_size=1, max_size=4),
        }
    ),
    max_leaves=8,
).map(lambda tree: tree if "children" in tree else rule(tree))


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=trees | MIXED, picks=st.lists(st.integers(0, 20), max_size=4))
def test_narrowing_windowed_totals_to_the_siblings_customers_never_changes_who_matches(shop_data, data, picks):
    """The compiler sums a window's orders only for the customers a condition's AND-siblings
    (and the caller) allow; the members must be exactly those of the plain aggregate."""
    try:
        parsed = parse(data)
    except RuleError:
        return
    everyone = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    members = set(matching(parsed).values_list("pk", flat=True))
    chosen = {everyone[i % len(everyone)] for i in picks}
    assert set(matching(parsed, customer_ids=sorted(chosen)).values_list("pk", flat=True)) == members & chosen

    with pytest.MonkeyPatch.context() as patch:
        for name, spec in fields().items():
            if spec.scoped:  # the plain aggregate over every order of the window
                unscoped = partial(lambda build, *args: build(*args, scope=None)[0], spec.build)
                patch.setitem(fields(), name, replace(spec, scoped=False, build=unscoped))
        assert set(matching(parse(data)).values_list("pk", flat=True)) == members
