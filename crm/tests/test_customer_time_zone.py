"""A customer's time zone, sent by a shop like any profile field: kept on the customer (what
campaigns read to send at the customer's hour) and on the shop's identity (what the shop's
key reads back); an empty value never erases it; an unknown zone is a 400 on `time_zone`
that writes nothing; and the staff edit it on the customer's admin page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from campaigns.campaigns.actions import campaign_schedule
from campaigns.campaigns.sending import campaigns_send_due
from campaigns.models import Timing
from campaigns.tests.campaign_data import NOW, campaign, segment
from customers.models import Customer, CustomerIdentity, Order
from customers.services.api_keys import api_key_create
from customers.tests.test_consent_admin import form_data
from messaging.models import Message
from messaging.tests.fixtures import branded_shop

pytestmark = pytest.mark.django_db


def post(api, body: dict, path: str = "/api/v1/customers"):
    return api.post(path, body, format="json")


def test_a_shops_time_zone_is_stored_on_the_customer_and_its_identity_and_read_back_by_its_key(api, other_api):
    created = post(api, {"external_id": "c-1", "email": "ann@example.com", "time_zone": "Europe/Berlin"})

    assert created.status_code == 201 and created.json()["time_zone"] == "Europe/Berlin"
    assert Customer.objects.get().time_zone == "Europe/Berlin"
    assert CustomerIdentity.objects.get(external_id="c-1").time_zone == "Europe/Berlin"
    assert api.get(f"/api/v1/customers/{created.json()['id']}").json()["time_zone"] == "Europe/Berlin"
    # Another shop (a group of its own) sends the same person without a zone: it reads none,
    # and the staff's merged profile keeps the zone.
    elsewhere = post(other_api, {"email": "ann@example.com"})
    assert elsewhere.json()["time_zone"] == ""
    assert Customer.objects.get().time_zone == "Europe/Berlin"


def test_an_empty_time_zone_never_erases_one_and_a_new_one_overwrites(api):
    first = post(api, {"external_id": "c-1", "time_zone": "Asia/Tokyo"}).json()
    for body in ({"external_id": "c-1", "time_zone": ""}, {"external_id": "c-1", "time_zone": "   "}):
        assert post(api, body).json()["time_zone"] == "Asia/Tokyo"
    assert post(api, {"external_id": "c-1", "first_name": "Kim"}).json()["time_zone"] == "Asia/Tokyo"
    assert (Customer.objects.get().time_zone, CustomerIdentity.objects.get().time_zone) == ("Asia/Tokyo",) * 2

    moved = post(api, {"external_id": "c-1", "time_zone": "America/New_York"})

    assert moved.status_code == 200 and moved.json()["id"] == first["id"]
    assert moved.json()["time_zone"] == "America/New_York"
    assert (Customer.objects.get().time_zone, CustomerIdentity.objects.get().time_zone) == ("America/New_York",) * 2


def test_an_order_carries_the_customers_time_zone(api, order_payload):
    order_payload["customer"]["time_zone"] = "Australia/Sydney"

    response = post(api, order_payload, "/api/v1/orders")

    assert response.status_code == 201
    assert Customer.objects.get().time_zone == "Australia/Sydney"


@pytest.mark.parametrize(
    "zone",
    [
        "Mars/Base",
        "../../etc/passwd",
        "/usr/share/zoneinfo/UTC",
        "Europe/../Europe/Berlin",
        "localtime",  # the server's zone under another name
        "europe/berlin",  # the right zone, wrongly cased: refused, with a hint
        "Europe/Berlin\u0000",
        "Europe/" + "x" * 64,  # longer than the column
    ],
)
def test_an_unknown_time_zone_is_400_on_time_zone_and_writes_nothing(api, order_payload, zone):
    post(api, {"external_id": "c-1", "time_zone": "Asia/Tokyo"})
    order_payload["customer"] = {"external_id": "c-2", "email": "new@example.com", "time_zone": zone}

    refused = [
        post(api, {"external_id": "c-1", "first_name": "Kim", "time_zone": zone}),
        post(api, {"external_id": "c-3", "time_zone": zone}),
        post(api, order_payload, "/api/v1/orders"),
    ]

    for response, field in zip(refused, ["time_zone", "time_zone", "customer.time_zone"], strict=True):
        assert response.status_code == 400
        assert list(response.json()["errors"]) == [field]
    assert (Customer.objects.count(), CustomerIdentity.objects.count(), Order.objects.count()) == (1, 1, 0)
    kim = Customer.objects.get()
    assert (kim.first_name, kim.time_zone, CustomerIdentity.objects.get().time_zone) == ("", "Asia/Tokyo", "Asia/Tokyo")


def test_the_400_says_which_zone_is_unknown_and_suggests_the_right_case(api):
    unknown = post(api, {"external_id": "c-1", "time_zone": "Mars/Base"}).json()["errors"]["time_zone"]
    cased = post(api, {"external_id": "c-1", "time_zone": "europe/berlin"}).json()["errors"]["time_zone"]

    assert unknown[0].startswith("Unknown time zone 'Mars/Base'")
    assert cased[0].endswith("Did you mean 'Europe/Berlin'?")


def test_staff_set_a_time_zone_on_the_customers_page_and_an_unknown_one_is_refused(admin_client):
    ann = Customer.objects.create(email="ann@example.com", first_name="Ann")
    page = reverse("admin:customers_customer_change", args=[ann.pk])
    data = form_data(admin_client.get(page))
    assert "time_zone" in data

    refused = admin_client.post(page, {**data, "time_zone": "Mars/Base"})
    assert refused.status_code == 200
    assert "Unknown time zone" in str(refused.context["adminform"].form.errors["time_zone"])
    assert Customer.objects.get().time_zone == ""

    assert admin_client.post(page, {**data, "time_zone": "Europe/Lisbon"}).status_code == 302
    assert Customer.objects.get().time_zone == "Europe/Lisbon"


def test_a_local_hour_campaign_reaches_each_customer_at_the_hour_of_the_zone_their_shop_sent(smtp):
    shop = branded_shop()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(shop=shop).key}")
    for email, zone in (("tokyo@example.com", "Asia/Tokyo"), ("ny@example.com", "America/New_York")):
        body = {"external_id": email, "email": email, "first_name": "Kim", "marketing_consent": True}
        assert post(api, {**body, "time_zone": zone}).status_code == 201
    people = list(Customer.objects.order_by("pk"))
    midnight = NOW.replace(hour=0)
    local = campaign(shop, [segment("All", people)], timing=Timing.LOCAL_HOUR, local_hour=10)
    local.send_at = midnight
    local.save()
    campaign_schedule(campaign=local, user=None, now=midnight - timedelta(hours=1))

    def sent_by(hour: int) -> list[str]:
        campaigns_send_due(now=midnight + timedelta(hours=hour))
        return sorted(Message.objects.values_list("to_email", flat=True))

    assert sent_by(0) == []
    assert sent_by(1) == ["tokyo@example.com"]  # 10:00 in Tokyo (UTC+9)
    assert sent_by(13) == ["tokyo@example.com"]
    assert sent_by(14) == ["ny@example.com", "tokyo@example.com"]  # 10:00 in New York (UTC-4 in June)
