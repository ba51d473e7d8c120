"""What customers tell us: CSAT through the signed link of a solved ticket, reviews through
the signed link of a fulfilled order, NPS over the API; and the promoter and detractor
facts each one gives the lifecycle stage."""

import re
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from customers.models import CustomerMetrics, CustomerSignal, Product
from customers.services.recompute import customers_recompute
from customers.services.signals import PROMOTER
from customers.tests.factories import CustomerFactory, OrderFactory, OrderLineFactory
from support import links
from support.feedback import NpsData, nps_record
from support.models import CsatResponse, NpsResponse, Review, Team, Ticket
from support.tickets import TicketData, ticket_open, ticket_set_status

pytestmark = pytest.mark.django_db


@pytest.fixture
def solved(django_user_model):
    agent = django_user_model.objects.create_user("ana", is_staff=True)
    team = Team.objects.create(name="Front line")
    ticket, _ = ticket_open(customer=CustomerFactory(), data=TicketData(subject="Broken mug", body="It broke"))
    Ticket.objects.filter(pk=ticket.pk).update(assignee=agent, team=team)
    return ticket_set_status(ticket=ticket, status=Ticket.Status.SOLVED)


def csat_path(ticket) -> str:
    """The link the customer got, read from the thread as they would."""
    body = ticket.messages.get(author_kind="system").body
    url = re.search(r'href="([^"]+)"', body).group(1)
    return url.removeprefix("http://127.0.0.1:8000")


def test_solving_a_ticket_sends_a_csat_link_that_takes_one_rating(client, solved):
    path = csat_path(solved)
    assert path.startswith("/feedback/csat/")
    page = client.get(path)
    assert page.status_code == 200 and b"How did we do?" in page.content

    response = client.post(path, {"rating": "5", "comment": "Quick and kind"})

    assert response.status_code == 200 and b"You rated this 5/5" in response.content
    answer = CsatResponse.objects.get()
    assert (answer.ticket, answer.rating, answer.comment) == (solved, 5, "Quick and kind")
    assert (answer.agent.username, answer.team.name) == ("ana", "Front line")
    again = client.post(path, {"rating": "1"})
    assert b"You rated this 5/5" in again.content and CsatResponse.objects.count() == 1


def test_a_bad_csat_rating_is_refused_naming_the_field(client, solved):
    for rating in ("0", "6", "five", ""):
        response = client.post(csat_path(solved), {"rating": rating})
        assert response.status_code == 400
        assert b"errorlist" in response.content and b"rating" in response.content.lower()
    assert not CsatResponse.objects.exists()


def test_a_negative_csat_opens_a_linked_follow_up_ticket_and_a_detractor_signal(client, solved):
    client.post(csat_path(solved), {"rating": "2", "comment": "<b>Slow</b>"})
    answer = CsatResponse.objects.get()
    follow_up = Ticket.objects.get(csat=answer)
    assert follow_up.priority == "high" and f"#{solved.pk}" in follow_up.subject
    assert "<blockquote>Slow</blockquote>" in follow_up.messages.get().body  # comments are plain text
    signal = CustomerSignal.objects.get(source="csat")
    assert (signal.kind, signal.customer_id) == ("detractor", solved.customer_id)


def test_a_tampered_or_expired_csat_link_says_so(client, solved, settings):
    path = csat_path(solved)
    assert client.get(path[:-2] + "xx").status_code == 404
    review_token = links.review_link(solved.pk).url.rsplit("/", 1)[1]
    assert client.get(f"/feedback/csat/{review_token}").status_code == 404  # another purpose's token
    settings.CSAT_LINK_MAX_AGE = timedelta(seconds=-1)
    expired = client.get(path)
    assert expired.status_code == 410 and b"expired" in expired.content
    assert client.post(path, {"rating": "5"}).status_code == 410
    assert not CsatResponse.objects.exists()


def test_a_ticket_that_is_not_solved_cannot_be_rated(client):
    ticket, _ = ticket_open(customer=CustomerFactory(), data=TicketData(subject="Hi", body="Hi"))
    token = signing.dumps(ticket.pk, salt=links.CSAT_SALT)
    response = client.post(f"/feedback/csat/{token}", {"rating": "5"})
    assert response.status_code == 400 and b"not solved" in response.content


# Reviews through the order's link


@pytest.fixture
def fulfilled(shop):
    customer = CustomerFactory()
    order = OrderFactory(shop=shop, customer=customer, status="fulfilled", external_id="1001")
    for sku, name in (("MUG", "Mug"), ("TEA", "Tea")):
        Product.objects.create(shop=shop, sku=sku, name=name)
        OrderLineFactory(order=order, sku=sku, name=name)
    return order


def test_the_shop_gets_a_review_link_for_a_fulfilled_order_only(api, fulfilled):
    response = api.get("/api/v1/orders/1001/review-link")
    assert response.status_code == 200
    assert response.json()["url"].startswith("http://127.0.0.1:8000/feedback/review/")
    fulfilled.status = "paid"
    fulfilled.save()
    refused = api.get("/api/v1/orders/1001/review-link")
    assert refused.status_code == 400 and "status" in refused.json()["errors"]
    assert api.get("/api/v1/orders/nope/review-link").status_code == 404


def test_another_shops_order_has_no_review_link(other_api, fulfilled):
    assert other_api.get("/api/v1/orders/1001/review-link").status_code == 404


def test_a_customer_reviews_each_product_of_the_order_once(client, fulfilled):
    path = links.review_link(fulfilled.pk).url.removeprefix("http://127.0.0.1:8000")
    page = client.get(path)
    assert page.status_code == 200 and b"Mug" in page.content and b"Tea" in page.content

    response = client.post(path, {"sku": "MUG", "rating": "5", "title": "Lovely", "body": "Holds tea well"})

    assert response.status_code == 200 and b"You gave it 5" in response.content
    review = Review.objects.get()
    assert (review.product.sku, review.verified_buyer, review.status) == ("MUG", True, "published")
    assert CustomerSignal.objects.get(source="review").kind == PROMOTER
    client.post(path, {"sku": "MUG", "rating": "1"})
    assert Review.objects.count() == 1 and Review.objects.get().rating == 5


def test_bad_reviews_through_the_link_are_refused_naming_the_field(client, fulfilled):
    path = links.review_link(fulfilled.pk).url.removeprefix("http://127.0.0.1:8000")
    missing = client.post(path, {"sku": "MUG", "rating": "9"})
    assert missing.status_code == 400 and b"Select a valid choice" in missing.content
    other = client.post(path, {"sku": "SOCKS", "rating": "4"})
    assert other.status_code == 400 and b"not on the order" in other.content
    assert not Review.objects.exists()


def test_a_one_star_review_is_a_detractor_signal(client, fulfilled):
    path = links.review_link(fulfilled.pk).url.removeprefix("http://127.0.0.1:8000")
    client.post(path, {"sku": "TEA", "rating": "1", "body": "Stale"})
    assert CustomerSignal.objects.get(source="review").kind == "detractor"
    assert Ticket.objects.filter(review__isnull=False).count() == 1


def test_a_review_link_expires(client, fulfilled, settings):
    path = links.review_link(fulfilled.pk).url.removeprefix("http://127.0.0.1:8000")
    settings.REVIEW_LINK_MAX_AGE = timedelta(seconds=-1)
    assert client.post(path, {"sku": "MUG", "rating": "5"}).status_code == 410
    assert not Review.objects.exists()


# NPS


NPS = {"customer": {"email": "ada@example.com"}, "score": 10, "comment": "Love it", "external_id": "s-1"}


@pytest.mark.parametrize(
    ("score", "category", "signal"), [(10, "promoter", "promoter"), (7, "passive", None), (3, "detractor", "detractor")]
)
def test_an_nps_answer_is_stored_with_its_category_and_signal(api, score, category, signal):
    response = api.post("/api/v1/nps", {**NPS, "score": score}, format="json")
    assert response.status_code == 201
    assert response.json()["category"] == category
    assert list(CustomerSignal.objects.values_list("kind", flat=True)) == ([signal] if signal else [])


def test_a_replayed_nps_answer_is_stored_once(api):
    assert api.post("/api/v1/nps", NPS, format="json").status_code == 201
    assert api.post("/api/v1/nps", NPS, format="json").status_code == 200
    assert NpsResponse.objects.count() == 1 and CustomerSignal.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [({"score": 11}, "score"), ({"score": -1}, "score"), ({"score": "ten"}, "score"), ({"customer": {}}, "customer")],
)
def test_bad_nps_answers_are_refused_naming_the_field(api, change, field):
    response = api.post("/api/v1/nps", {**NPS, **change}, format="json")
    assert response.status_code == 400
    assert any(key.startswith(field) for key in response.json()["errors"])
    assert not NpsResponse.objects.exists()


def test_signals_move_the_lifecycle_stage(db):
    """The hook end to end: a promoter signal makes an active customer an advocate at the
    next recompute (the lifecycle reads the signal table)."""
    customer = CustomerFactory()
    now = timezone.now()
    for days in (200, 100, 10):
        OrderFactory(customer=customer, placed_at=now - timedelta(days=days), status="paid")
    customers_recompute(customer_ids=[customer.pk])
    before = CustomerMetrics.objects.get(customer=customer).stage
    nps_record(customer=customer, shop=None, data=NpsData(score=10))
    customers_recompute(customer_ids=[customer.pk])
    assert before == "active" and CustomerMetrics.objects.get(customer=customer).stage == "advocate"
