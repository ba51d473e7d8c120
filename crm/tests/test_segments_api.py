"""Segments over the API: previews, members and a customer's segments, within the key's shop."""

import pytest

from campaigns.services import segment_create, segment_refresh
from crm.tests.api_ids import own_id
from customers.tests.factories import CustomerFactory, IdentityFactory

pytestmark = pytest.mark.django_db

GERMANY = {"match": "all", "children": [{"field": "country", "operator": "eq", "value": "DE"}]}


@pytest.fixture
def germans(shop):
    """Two German customers of this shop, one French, and one German of another shop (the
    shop sent the country: its key reads the profile its identities keep)."""
    ours = [CustomerFactory(country=c) for c in ("DE", "DE", "FR")]
    for customer in ours:
        IdentityFactory(shop=shop, customer=customer, country=customer.country)
    theirs = CustomerFactory(country="DE")
    IdentityFactory(customer=theirs)
    return ours, theirs


def test_a_preview_counts_this_shops_customers_and_reads_the_rule(api, germans):
    response = api.post("/api/v1/segments/preview", {"rule": GERMANY}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["sentence"] == "customers where country is DE"
    assert {c["id"] for c in body["sample"]} == {own_id(germans[0][0]), own_id(germans[0][1])}


@pytest.mark.parametrize(
    "body,field,message",
    [
        (
            {"rule": {"match": "all", "children": [{"field": "country", "operator": "gt", "value": "DE"}]}},
            "rule",
            "condition 1 of the rule (country): operator 'gt' does not apply",
        ),
        ({"rule": {"match": "all", "children": []}}, "rule", "a group needs a non-empty list of children"),
        ({}, "rule", "required"),
        ({"rule": "country = DE"}, "rule", "Must be an object, not text."),
    ],
)
def test_a_bad_preview_is_a_400_naming_the_field(api, body, field, message):
    response = api.post("/api/v1/segments/preview", body, format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors, errors
    assert any(message.lower() in m.lower() for m in errors[field]), errors


def test_members_and_a_customers_segments_stay_within_the_shop(api, other_api, germans):
    ours, theirs = germans
    segment = segment_create(name="Germany", rule=GERMANY)
    segment_refresh(segment=segment)

    members = api.get(f"/api/v1/segments/{segment.pk}/members").json()["results"]
    assert {m["id"] for m in members} == {own_id(ours[0]), own_id(ours[1])}
    mine = api.get(f"/api/v1/customers/{own_id(ours[0])}/segments").json()
    assert [(s["id"], s["name"]) for s in mine] == [(segment.pk, "Germany")]
    assert api.get(f"/api/v1/customers/{own_id(ours[2])}/segments").json() == []
    assert api.get(f"/api/v1/customers/{own_id(theirs)}/segments").status_code == 404
    assert other_api.get(f"/api/v1/segments/{segment.pk}/members").json()["results"] == []
    assert api.get("/api/v1/segments/999999/members").status_code == 404


def test_the_segment_list_shows_each_rule_and_its_sentence(api):
    segment_create(name="Germany", rule=GERMANY)

    listed = api.get("/api/v1/segments").json()["results"]

    newest = listed[0]  # the ready-made segments come before it
    assert (newest["name"], newest["rule"]["children"][0]["value"], newest["sentence"]) == (
        "Germany",
        "DE",
        "customers where country is DE",
    )
    assert "High CLV (top decile)" in {s["name"] for s in listed}
