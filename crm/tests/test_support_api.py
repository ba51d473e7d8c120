"""Tickets and reviews over the API: created from a shop's data, read back within the key's
shop only, internal notes never shown, bad input a 4xx naming the field."""

import pytest

from crm.tests.api_ids import api_id, own_id
from customers.models import Product
from customers.tests.factories import CustomerFactory, IdentityFactory, OrderFactory, OrderLineFactory
from support.models import Review, Ticket
from support.tickets import ticket_reply

pytestmark = pytest.mark.django_db

TICKET = {
    "customer": {"email": "ada@example.com", "first_name": "Ada"},
    "subject": "Where is my parcel?",
    "message": "<p>Ordered a week ago.</p><script>alert(1)</script>",
}


def test_a_contact_form_opens_a_ticket_for_a_new_customer(api):
    response = api.post("/api/v1/tickets", TICKET, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["subject"], body["status"], body["channel"], body["priority"]) == (
        "Where is my parcel?",
        "new",
        "web_form",
        "normal",
    )
    assert body["messages"][0]["body"] == "<p>Ordered a week ago.</p>"
    ticket = Ticket.objects.get(pk=body["id"])
    assert ticket.customer.email == "ada@example.com"


def test_a_replayed_ticket_is_returned_not_duplicated(api):
    first = api.post("/api/v1/tickets", {**TICKET, "external_id": "form-7"}, format="json")
    again = api.post("/api/v1/tickets", {**TICKET, "external_id": "form-7"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and Ticket.objects.count() == 1


def test_a_ticket_can_name_the_customers_order(api, shop):
    customer = CustomerFactory(email="ada@example.com", email_normalized="ada@example.com")
    IdentityFactory(shop=shop, customer=customer, external_id="c-1")
    OrderFactory(shop=shop, customer=customer, external_id="o-1")

    response = api.post("/api/v1/tickets", {**TICKET, "order_external_id": "o-1"}, format="json")
    assert response.status_code == 201 and response.json()["order_external_id"] == "o-1"


@pytest.mark.parametrize(
    "change,field",
    [
        ({"subject": "   "}, "subject"),
        ({"subject": "x" * 256}, "subject"),
        ({"message": ""}, "message"),
        ({"priority": "asap"}, "priority"),
        ({"channel": "pigeon"}, "channel"),
        ({"customer": {"first_name": "Nobody"}}, "customer.external_id"),
        ({"customer": {"email": "not-an-email"}}, "customer.email"),
        ({"order_external_id": "someone-elses"}, "order_external_id"),
        ({"subject": "a\x00b"}, "subject"),
    ],
)
def test_bad_tickets_are_refused_naming_the_field_and_nothing_is_written(api, change, field):
    response = api.post("/api/v1/tickets", {**TICKET, **change}, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Ticket.objects.count() == 0


def test_a_customers_tickets_show_public_messages_of_this_shop_only(api, shop, other_api, django_user_model):
    ticket_id = api.post("/api/v1/tickets", TICKET, format="json").json()["id"]
    ticket = Ticket.objects.get(pk=ticket_id)
    agent = django_user_model.objects.create_user("agent", is_staff=True)
    ticket_reply(ticket=ticket, body="Internal: carrier lost it", user=agent, public=False)
    ticket_reply(ticket=ticket, body="Sorry, we are sending another", user=agent)
    other_api.post("/api/v1/tickets", TICKET, format="json")  # the same person, through another shop

    response = api.get(f"/api/v1/customers/{api_id(shop, ticket.customer_id)}/tickets")

    assert response.status_code == 200
    (only,) = response.json()["results"]
    assert only["id"] == ticket_id and only["status"] == "open"
    assert [m["body"] for m in only["messages"]] == ["<p>Ordered a week ago.</p>", "Sorry, we are sending another"]


def test_a_customer_of_another_shop_is_not_found(api, other_api):
    other = other_api.post("/api/v1/tickets", {**TICKET, "customer": {"email": "bob@example.com"}}, format="json")
    customer_id = own_id(Ticket.objects.get(pk=other.json()["id"]).customer_id)  # the other shop's id
    assert api.get(f"/api/v1/customers/{customer_id}/tickets").status_code == 404


@pytest.fixture
def mug(shop):
    return Product.objects.create(shop=shop, sku="MUG-1", name="Mug")


def review_body(**change):
    return {
        "customer": {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
        "sku": "MUG-1",
        "rating": 5,
        "title": "Lovely",
        "body": "Keeps tea hot",
        **change,
    }


def test_a_buyers_review_is_verified_published_and_listed(api, shop, mug):
    customer = CustomerFactory(email="ada@example.com", email_normalized="ada@example.com")
    IdentityFactory(shop=shop, customer=customer)
    OrderLineFactory(order=OrderFactory(shop=shop, customer=customer), sku="MUG-1")

    created = api.post("/api/v1/reviews", review_body(), format="json")
    assert created.status_code == 201
    assert (created.json()["verified_buyer"], created.json()["status"]) == (True, "published")

    listed = api.get("/api/v1/products/MUG-1/reviews")
    assert listed.status_code == 200
    (only,) = listed.json()["results"]
    assert only["author"] == "Ada L." and "email" not in only


def test_unpublished_reviews_are_not_listed_and_other_shops_products_are_not_found(api, other_api, mug):
    api.post("/api/v1/reviews", review_body(rating=3), format="json")  # not a buyer: held for moderation
    assert Review.objects.get().status == "pending"
    assert api.get("/api/v1/products/MUG-1/reviews").json()["results"] == []
    assert other_api.get("/api/v1/products/MUG-1/reviews").status_code == 404
    assert api.get("/api/v1/products/NOPE/reviews").status_code == 404


@pytest.mark.parametrize(
    "change,field",
    [
        ({"rating": 6}, "rating"),
        ({"rating": 0}, "rating"),
        ({"rating": "5"}, "rating"),
        ({"sku": "NOPE"}, "sku"),
        ({"sku": ""}, "sku"),
        ({"title": "t" * 201}, "title"),
    ],
)
def test_bad_reviews_are_refused_naming_the_field(api, mug, change, field):
    response = api.post("/api/v1/reviews", review_body(**change), format="json")
    assert response.status_code == 400 and field in response.json()["errors"]
    assert Review.objects.count() == 0


def test_a_one_star_review_opens_a_follow_up_ticket_for_the_shop(api, mug):
    response = api.post("/api/v1/reviews", review_body(rating=1, title="Cracked"), format="json")
    assert response.status_code == 201
    ticket = Ticket.objects.get(review_id=response.json()["id"])
    assert ticket.shop == mug.shop and "Cracked" in ticket.messages.get().body
