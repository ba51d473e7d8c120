"""The support admin: every list opens, business hours are checked, reviews are moderated."""

import pytest
from django.urls import reverse

from customers.models import Product
from customers.tests.factories import CustomerFactory, ShopFactory
from support.models import BusinessHours, Review
from support.services import TicketData, ticket_open

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "model", ["ticket", "slapolicy", "businesshours", "team", "review", "reviewmoderation", "npsresponse"]
)
def test_every_support_list_opens(admin_client, model):
    ticket_open(customer=CustomerFactory(), data=TicketData(subject="Help", body="Hi"))
    assert admin_client.get(reverse(f"admin:support_{model}_changelist")).status_code == 200


def test_a_ticket_page_shows_its_thread(admin_client):
    ticket, _ = ticket_open(customer=CustomerFactory(), data=TicketData(subject="Help", body="<b>Parcel</b> lost"))
    page = admin_client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    assert "Parcel" in page and "lost" in page


@pytest.mark.parametrize(
    "weekly,time_zone,field,message",
    [
        ('{"0": ["17:00", "09:00"]}', "UTC", "weekly", "is not before closing"),
        ("{}", "UTC", "weekly", "at least one open weekday"),
        ('{"0": ["09:00", "17:00"]}', "Mars/Base", "time_zone", "unknown time zone"),
    ],
)
def test_business_hours_that_cannot_work_are_refused_on_their_field(admin_client, weekly, time_zone, field, message):
    response = admin_client.post(
        reverse("admin:support_businesshours_add"),
        {"name": "Office", "time_zone": time_zone, "weekly": weekly, "holidays": "[]"},
    )
    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors[field])
    assert not BusinessHours.objects.exists()


def test_reviews_are_published_or_rejected_in_bulk(admin_client):
    shop = ShopFactory()
    product = Product.objects.create(shop=shop, sku="MUG-1", name="Mug")
    reviews = [
        Review.objects.create(
            shop=shop, customer=CustomerFactory(), product=product, rating=4, created_at="2026-11-01T00:00Z"
        )
        for _ in range(2)
    ]
    url = reverse("admin:support_review_changelist")
    admin_client.post(url, {"action": "publish", "_selected_action": [reviews[0].pk]})
    admin_client.post(url, {"action": "reject", "_selected_action": [reviews[1].pk]})
    assert [r.status for r in Review.objects.order_by("pk")] == ["published", "rejected"]
