"""The privacy calls over the API: a shop's slice of a customer as a ZIP (recorded), and an
erasure request queued for the staff; another shop's key gets nothing."""

import io
import json
import zipfile

import pytest
from rest_framework.test import APIClient

from crm.privacy.models import PrivacyRequest
from crm.roles import MARKETER
from crm.tests.api_ids import api_id, own_id
from customers.models import Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann(api, order_payload):
    assert api.post("/api/v1/orders", order_payload, format="json").status_code == 201
    return Customer.objects.get()


def test_the_export_is_a_zip_of_this_shops_slice_and_is_recorded(api, ann, shop, other_api, order_payload):
    other_api.post("/api/v1/orders", dict(order_payload, external_id="elsewhere-1"), format="json")

    response = api.get(f"/api/v1/customers/{api_id(shop, ann)}/export")

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        orders = json.loads(archive.read("customers.Order.json"))
        manifest = json.loads(archive.read("manifest.json"))
        assert "customers.Customer.json" not in archive.namelist()
    assert [o["external_id"] for o in orders] == [order_payload["external_id"]]
    assert manifest["shop"] == shop.slug and manifest["made_by"].startswith("API key ")
    recorded = PrivacyRequest.objects.get()
    assert (recorded.kind, recorded.source, recorded.status) == ("data_request", "api", "done")
    assert recorded.customer == ann and recorded.api_key is not None and recorded.completed_at is not None


def test_another_shops_key_cannot_export_or_ask_to_erase(ann, api, other_api):
    ref = own_id(ann)
    assert other_api.get(f"/api/v1/customers/{ref}/export").status_code == 404
    assert other_api.post(f"/api/v1/customers/{ref}/erasure-request").status_code == 404
    assert PrivacyRequest.objects.count() == 0


def test_an_erasure_request_is_queued_once_and_erases_nothing_by_itself(api, ann):
    first = api.post(f"/api/v1/customers/{own_id(ann)}/erasure-request")
    again = api.post(f"/api/v1/customers/{own_id(ann)}/erasure-request")

    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] and first.json()["status"] == "open"
    queued = PrivacyRequest.objects.get()
    assert (queued.kind, queued.source, queued.customer) == ("customer_redact", "api", ann)
    assert (queued.due_at - queued.received_at).days == 30
    assert Customer.objects.get().email == ann.email  # staff answer it


def test_a_role_key_without_the_permission_is_refused(ann, shop, role_api):
    marketer = role_api(shop, MARKETER)
    assert marketer.get(f"/api/v1/customers/{own_id(ann)}/export").status_code == 403
    assert marketer.post(f"/api/v1/customers/{own_id(ann)}/erasure-request").status_code == 403


def test_an_unknown_customer_is_a_404(api):
    assert api.get("/api/v1/customers/999999/export").status_code == 404


def test_a_shop_of_the_group_that_never_knew_the_customer_gets_a_404(ann, shop):
    from customers.services.api_keys import api_key_create
    from customers.tests.factories import ShopFactory

    sister = ShopFactory(slug="sister", group=shop.group)
    key = api_key_create(shop=sister, name="sister").key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    ref = api_id(shop, ann)

    assert client.get(f"/api/v1/customers/{ref}/export").status_code == 404
    assert client.post(f"/api/v1/customers/{ref}/erasure-request").status_code == 404
    assert PrivacyRequest.objects.count() == 0


def test_the_export_names_the_customer_by_the_shops_id(api, ann, shop):
    ref = api_id(shop, ann)
    response = api.get(f"/api/v1/customers/{ref}/export")
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        orders = json.loads(archive.read("customers.Order.json"))
    assert manifest["customer_id"] == ref and {o["customer_id"] for o in orders} == {ref}


def test_an_erasure_request_with_a_body_is_a_400_and_queues_nothing(api, ann, shop):
    response = api.post(f"/api/v1/customers/{api_id(shop, ann)}/erasure-request", {"reason": "x"}, format="json")
    assert response.status_code == 400 and "body" in response.json()["errors"]
    assert PrivacyRequest.objects.count() == 0


def test_an_erased_address_is_subscribed_only_by_the_persons_own_confirmation(api, ann, admin_user):
    from crm.privacy.erasure import customer_erase
    from messaging.models import Message

    email = ann.email
    customer_erase(customer_id=ann.pk, user=admin_user)

    response = api.post(
        "/api/v1/subscriptions",
        {"email": email, "consent": True, "source": "footer_form", "shown_text": "News, monthly"},
        format="json",
    )

    assert (response.status_code, response.json()["status"]) == (202, "confirmation_sent")
    assert not Customer.objects.filter(marketing_consent=True).exists()
    assert Message.objects.filter(to_email__iexact=email).count() == 1  # the confirmation email
