"""The API as /api/docs/ shows it: every operation summarised and described, every request
field described, and examples that work as they stand.

Each write operation's example body is posted, in the order a shop's integration would send
them, to a fresh database with a shop's key, and must answer 2xx. Path parameters come from
earlier answers (the ticket's id, the customer's id, the reward code), as a client would fill
them; the two body values that name something the server made (a reward's id, a referral
code) are read the same way. On a new installation the examples' own ids are right too, as
"Try it out" sends them in that order (only the codes the server makes up are read). The
examples are also checked against their own schemas, and the answers' examples against the
real answers.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import jsonschema
import pytest
from django.contrib.auth.models import Group
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from crm.roles import MANAGER
from customers.services.api_keys import api_key_create, shop_create
from loyalty.models import EarningRule, Programme, Reward, RuleKind

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def resolve(schema, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def bare_fields(schema, node: dict, path: str, seen: set[str]) -> list[str]:
    """The fields under ``node`` (a request body's schema) that have no description."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return []
        seen.add(name)
        return bare_fields(schema, resolve(schema, node), name, seen)
    found = []
    for member in node.get("anyOf", []) + node.get("oneOf", []):
        found += bare_fields(schema, member, path, seen)
    if "items" in node:
        found += bare_fields(schema, node["items"], path, seen)
    for name, prop in node.get("properties", {}).items():
        if not prop.get("description"):
            found.append(f"{path}.{name}")
        found += bare_fields(schema, prop, f"{path}.{name}", seen)
    return found


def test_every_operation_has_a_summary_and_a_description(schema):
    missing = [
        f"{method.upper()} {path}: {what}"
        for path, method, operation in operations(schema)
        for what in ("summary", "description")
        if not operation.get(what, "").strip()
    ]
    assert missing == []


def test_every_request_field_has_a_description(schema):
    bare = []
    for _, _, operation in operations(schema):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            bare += bare_fields(schema, media["schema"], "", set())
    assert sorted(set(bare)) == []


def test_every_response_field_has_a_description_too(schema):
    bare = []
    for name in schema["components"]["schemas"]:
        bare += bare_fields(schema, {"$ref": f"#/components/schemas/{name}"}, name, set())
    assert sorted(set(bare)) == []


def test_every_body_and_the_important_responses_have_examples_that_match_their_schemas(schema):
    """Validated as JSON Schema 2020-12 (OpenAPI 3.1's), against the components."""
    checked = 0
    for path, method, operation in operations(schema):
        places = [("request", operation.get("requestBody", {}))]
        places += [(status, response) for status, response in operation.get("responses", {}).items()]
        for where, part in places:
            for media in part.get("content", {}).values():
                if where == "request":
                    assert "example" in media, f"{method.upper()} {path} has no request example"
                if "example" not in media:
                    continue
                document = {**media["schema"], "components": schema["components"]}
                errors = list(jsonschema.Draft202012Validator(document).iter_errors(media["example"]))
                assert not errors, f"{method.upper()} {path} {where}: {errors[0].message} at {list(errors[0].path)}"
                checked += 1
    assert checked >= 25
    answers = {
        (op["operationId"], status)
        for _, _, op in operations(schema)
        for status, response in op["responses"].items()
        if any("example" in m for m in response.get("content", {}).values())
    }
    for important in ("orders_upsert", "orders_refund", "events_create", "customers_retrieve"):
        assert any(op == important and status.startswith("2") for op, status in answers), important


# The write operations in the order a shop's integration sends them. Each step may fill path
# parameters, or body values the server made, from earlier answers ("answers[operationId]").
def _customer_of_order(a):
    return {"path": {"id": a["orders_upsert"]["customer_id"]}}


PLAN = [
    ("orders_upsert", lambda a: {}),
    ("customers_upsert", lambda a: {}),
    ("orders_bulk", lambda a: {}),
    ("orders_refund", lambda a: {}),
    ("events_create", lambda a: {}),
    ("products_upsert", lambda a: {}),
    ("subscriptions_create", lambda a: {}),
    ("tickets_create", lambda a: {}),
    ("tickets_messages_create", lambda a: {"path": {"id": a["tickets_create"]["id"]}}),
    ("reviews_create", lambda a: {}),
    ("nps_create", lambda a: {}),
    ("segments_preview", lambda a: {}),
    ("customers_loyalty_adjust", lambda a: {**_customer_of_order(a), "role": MANAGER}),
    ("customers_loyalty_redeem", lambda a: {**_customer_of_order(a), "body": {"reward_id": a["reward_id"]}}),
    ("loyalty_codes_consume", lambda a: {"path": {"code": a["customers_loyalty_redeem"]["code"]}}),
    (
        "customers_loyalty_referral",
        lambda a: {"path": {"id": a["customers_upsert"]["id"]}, "body": {"referral_code": a["referral_code"]}},
    ),
    ("customers_erasure_request", lambda a: {"path": {"id": a["customers_upsert"]["id"]}}),
]


def example_of(parameter: dict):
    return parameter.get("example", next(iter(parameter.get("examples", {}).values()), {}).get("value"))


@pytest.fixture
def loyalty_set_up(db):
    """What staff set up in the admin before loyalty calls make sense: a programme and a reward."""
    Programme.objects.create(
        pk=1, starts_at=datetime.now(UTC) - timedelta(days=60), pending_days=14, point_value=Decimal("0.01")
    )
    EarningRule.objects.create(name="Points per dollar", kind=RuleKind.SPEND, points_per_unit=Decimal(1))
    return Reward.objects.create(name="$5 off", kind=Reward.Kind.FIXED_AMOUNT, value=5, points_cost=100)


@pytest.mark.django_db
def test_every_write_example_works_as_it_stands_on_a_fresh_database(schema, loyalty_set_up):
    answers, clients = post_every_example(schema, ids_from_answers=True)

    profile_path, profile = next(
        (p, op) for p, m, op in operations(schema) if op["operationId"] == "customers_retrieve"
    )
    answer = clients[None].get(profile_path.format(id=answers["orders_upsert"]["customer_id"])).json()
    assert differences(profile["responses"]["200"]["content"]["application/json"]["example"], answer) == []


@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_the_examples_ids_are_right_in_a_new_database(schema, loyalty_set_up):
    """As "Try it out" sends them one after another on a new installation: every id in a path
    or a body is the example's own; only the reward code and the referral code, which the
    server makes up, are read from earlier answers."""
    answers, _ = post_every_example(schema, ids_from_answers=False)

    assert answers["orders_upsert"]["customer_id"] == 1
    assert answers["customers_upsert"]["id"] == 2


def post_every_example(schema, *, ids_from_answers: bool):
    """Post each write operation's example in PLAN's order and expect a 2xx; the answers, by
    operationId, and the clients (by role)."""
    shop, issued = shop_create(slug="my-shop", name="My Shop")
    manager = api_key_create(shop=shop, name="manager", role=Group.objects.get(name=MANAGER))
    clients = {}
    for role, key in ((None, issued.key), (MANAGER, manager.key)):
        clients[role] = APIClient()
        clients[role].credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    writes = {op["operationId"]: (path, op) for path, method, op in operations(schema) if method == "post"}
    assert sorted(writes) == sorted(step for step, _ in PLAN), "every write operation has a step in PLAN"

    answers: dict = {}
    for operation_id, fill in PLAN:
        if operation_id == "customers_loyalty_redeem":
            answers["reward_id"] = clients[None].get("/api/v1/loyalty/rewards").json()["results"][0]["id"]
        if operation_id == "customers_loyalty_referral":
            referrer = answers["orders_upsert"]["customer_id"]
            answers["referral_code"] = (
                clients[None].get(f"/api/v1/customers/{referrer}/loyalty").json()["referral_code"]
            )
        path, operation = writes[operation_id]
        filled = fill(answers)
        if not ids_from_answers:  # only what the server made up
            filled["path"] = {k: v for k, v in filled.get("path", {}).items() if k == "code"}
            filled["body"] = {k: v for k, v in filled.get("body", {}).items() if k == "referral_code"}
        params = {p["name"]: example_of(p) for p in operation.get("parameters", []) if p["in"] == "path"}
        params.update(filled.get("path", {}))
        url = path.format(**params)
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        body = None if content is None else {**content["example"], **filled.get("body", {})}
        response = clients[filled.get("role")].post(url, body, format="json")
        assert 200 <= response.status_code < 300, f"{operation_id}: {response.status_code} {response.content[:500]}"
        answers[operation_id] = response.json()
        shown = operation["responses"].get(str(response.status_code), {}).get("content", {}).get("application/json")
        if shown and "example" in shown:  # the docs show the answer as it comes, field for field
            assert differences(shown["example"], response.json()) == [], operation_id
    return answers, clients


def differences(example, answer, path: str = "") -> list[str]:
    """Where an example and a real answer differ in shape: keys, nested (null, and an empty
    list, match anything)."""
    if example is None or answer is None:
        return []
    if isinstance(example, dict) and isinstance(answer, dict):
        found = [f"{path}.{key}" for key in example.keys() ^ answer.keys()]
        for key in example.keys() & answer.keys():
            found += differences(example[key], answer[key], f"{path}.{key}")
        return found
    if isinstance(example, list) and isinstance(answer, list):
        return differences(example[0], answer[0], f"{path}[0]") if example and answer else []
    return [] if isinstance(example, dict | list) == isinstance(answer, dict | list) else [path]
