"""Free text from customers comes back as plain text: review titles and bodies, NPS and CSAT
comments, ticket subjects and staff's review responses are stored with their markup removed,
so nothing a customer typed can run as a script where a shop shows it."""

import re

import pytest

from customers.models import Product
from customers.tests.factories import CustomerFactory
from support.feedback import csat_submit
from support.models import CsatResponse, NpsResponse, Review, ReviewModeration, Ticket
from support.reviews import review_respond
from support.text import plain_text
from support.tickets import TicketData, ticket_open, ticket_set_status

pytestmark = pytest.mark.django_db

HOSTILE = [
    # (sent, stored)
    ("<script>alert(1)</script>Great mug", "Great mug"),
    ('<img src=x onerror="alert(1)">Nice', "Nice"),
    ("<b>Sturdy</b> &amp; <i>warm</i>", "Sturdy & warm"),
    ("&lt;script&gt;alert(1)&lt;/script&gt;", "script>alert(1)/script>"),
    ("<svg><script>alert(1)</script></svg>ok", "ok"),
    ('<a href="javascript:alert(1)">click</a>', "click"),
    ("<!-- hidden --><style>p{}</style>text", "text"),
]
KEPT = ["Fish & chips", "5 > 4 and 3 < 4", "I <3 it", 'Tom\'s "best" mug', "Zürich, 東京 ☕", "line one\nline two"]


@pytest.mark.parametrize(("sent", "stored"), HOSTILE)
def test_markup_is_removed(sent, stored):
    assert plain_text(sent) == stored


@pytest.mark.parametrize("text", KEPT)
def test_plain_text_is_kept_as_written(text):
    assert plain_text(text) == text


def test_nothing_tag_like_survives_any_input():
    for sent, _ in HOSTILE:
        assert not re.search(r"<[A-Za-z/!?]", plain_text(sent))
        assert plain_text(plain_text(sent)) == plain_text(sent)  # stable when stored again


@pytest.fixture
def mug(shop):
    ReviewModeration.objects.create(auto_publish_min_rating=1, verified_buyers_only=False)  # publish at once
    return Product.objects.create(shop=shop, sku="MUG-1", name="Mug")


def test_a_reviews_author_initial_is_taken_from_the_name_without_markup(api, mug):
    customer = {"email": "bob@example.com", "first_name": "<b>Bob</b>", "last_name": "<svg onload=alert(4)>Smith"}
    body = {"customer": customer, "sku": "MUG-1", "rating": 5, "title": "Fine", "body": "Fine mug"}

    assert api.post("/api/v1/reviews", body, format="json").status_code == 201

    assert [r["author"] for r in api.get("/api/v1/products/MUG-1/reviews").json()["results"]] == ["Bob S."]


def test_review_title_and_body_come_back_from_the_api_without_markup(api, mug):
    customer = {"email": "ada@example.com", "first_name": "Ada<script>x</script>", "last_name": "Lovelace"}
    body = {
        "customer": customer,
        "sku": "MUG-1",
        "rating": 5,
        "title": "<script>alert(1)</script>Great mug",
        "body": '<img src=x onerror="alert(1)">Keeps tea <b>hot</b> &amp; cosy',
    }

    created = api.post("/api/v1/reviews", body, format="json")
    listed = api.get("/api/v1/products/MUG-1/reviews").json()["results"]

    assert created.status_code == 201
    assert (created.json()["title"], created.json()["body"]) == ("Great mug", "Keeps tea hot & cosy")
    assert [(r["title"], r["body"], r["author"]) for r in listed] == [("Great mug", "Keeps tea hot & cosy", "Ada L.")]
    assert (Review.objects.get().title, Review.objects.get().body) == ("Great mug", "Keeps tea hot & cosy")


def test_staffs_response_to_a_review_is_plain_text_too(api, mug, admin_user):
    api.post("/api/v1/reviews", {"customer": {"email": "a@example.com"}, "sku": "MUG-1", "rating": 4}, format="json")
    review_respond(review=Review.objects.get(), text="Thanks! <script>alert(1)</script>", user=admin_user)

    (listed,) = api.get("/api/v1/products/MUG-1/reviews").json()["results"]

    assert listed["response"] == "Thanks!"


def test_nps_comments_are_stored_without_markup(api):
    response = api.post(
        "/api/v1/nps",
        {"customer": {"email": "a@example.com"}, "score": 3, "comment": "<script>alert(1)</script>Too slow"},
        format="json",
    )

    assert response.status_code == 201 and response.json()["comment"] == "Too slow"
    assert NpsResponse.objects.get().comment == "Too slow"


def test_ticket_subjects_are_stored_without_markup_and_messages_stay_sanitised_html(api):
    body = {
        "customer": {"email": "a@example.com"},
        "subject": "<script>alert(1)</script>Where is my <b>order</b>?",
        "message": "<p>Hello <script>alert(1)</script><b>there</b></p>",
    }

    created = api.post("/api/v1/tickets", body, format="json")

    assert created.status_code == 201
    assert created.json()["subject"] == "Where is my order?"
    assert created.json()["messages"][0]["body"] == "<p>Hello <b>there</b></p>"
    assert Ticket.objects.get().subject == "Where is my order?"


def test_a_subject_that_is_only_markup_is_400_naming_it_and_nothing_is_written(api):
    body = {"customer": {"email": "a@example.com"}, "subject": "<script>alert(1)</script>", "message": "Hi"}

    response = api.post("/api/v1/tickets", body, format="json")

    assert response.status_code == 400 and "subject" in response.json()["errors"]
    assert not Ticket.objects.exists()


def test_csat_comments_are_stored_without_markup(django_user_model):
    ticket, _ = ticket_open(customer=CustomerFactory(), data=TicketData(subject="Broken", body="It broke"))
    ticket = ticket_set_status(ticket=ticket, status=Ticket.Status.SOLVED)

    csat_submit(ticket=ticket, rating=2, comment="<script>alert(1)</script>Slow <b>reply</b>")

    assert CsatResponse.objects.get().comment == "Slow reply"
    follow_up = Ticket.objects.get(csat__isnull=False)
    assert "<blockquote>Slow reply</blockquote>" in follow_up.messages.get().body


def test_text_stored_before_is_made_plain_by_the_migration(api, mug):
    """Rows written before the change (raw) are cleaned by support's data migration."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("support.migrations.0003_customer_text_plain")
    api.post("/api/v1/reviews", {"customer": {"email": "a@example.com"}, "sku": "MUG-1", "rating": 5}, format="json")
    api.post("/api/v1/tickets", {"customer": {"email": "a@example.com"}, "subject": "S", "message": "M"}, format="json")
    Review.objects.update(title="<script>alert(1)</script>Great", body="Fish &amp; chips", response="<b>Thanks</b>")
    Ticket.objects.update(subject="<script>alert(1)</script>")
    untouched = Review.objects.get().created_at

    migration.make_plain(apps, None)

    review = Review.objects.get()
    assert (review.title, review.body, review.response) == ("Great", "Fish & chips", "Thanks")
    assert review.created_at == untouched
    assert Ticket.objects.get().subject == "(no subject)"
    (listed,) = api.get("/api/v1/products/MUG-1/reviews").json()["results"]
    assert listed["title"] == "Great"
