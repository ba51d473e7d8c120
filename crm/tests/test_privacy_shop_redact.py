"""A shop's erasure (Shopify's shop/redact), end to end: the request arrives by the signed
webhook, a manager confirms it, the background work erases whom only that shop knew, blanks
its copy of the others, deletes its raw deliveries and closes the request; resumable a
batch at a time, and only for those whose role allows it."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from crm.connectors.models import ShopConnection, WebhookDelivery
from crm.merging.services import customers_merge
from crm.privacy.erasure import customer_erase
from crm.privacy.models import ErasureLog, PrivacyRequest
from crm.privacy.shop_redact import shop_redact_continue
from crm.roles import MANAGER, MARKETER, SUPPORT_AGENT
from crm.tasks import continue_shop_erasures
from crm.tests.test_shopify_connector import acme, deliver  # noqa: F401 (fixtures)
from customers.models import ApiKey, Customer, CustomerIdentity, Order, Product
from customers.tests.factories import CustomerFactory, IdentityFactory, OrderFactory, ShopFactory
from support.models import Review
from support.tests.factories import open_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(client, acme, django_capture_on_commit_callbacks):  # noqa: F811
    """Acme asked for its data to go: Ann was known only to Acme, Bo to Acme and Beta, Cy
    only to Beta. The request came by the signed webhook."""
    beta = ShopFactory(slug="beta")
    ann = CustomerFactory(email="ann@example.com", first_name="Ann", phone="+1 555 0101")
    IdentityFactory(customer=ann, shop=acme.shop, external_id="a-1", email="ann@example.com", first_name="Ann")
    OrderFactory(customer=ann, shop=acme.shop, total=Decimal("40.00"))
    open_ticket(ann, subject="Where is my parcel, Ann here")
    bo = CustomerFactory(email="bo@example.com", first_name="Bo")
    IdentityFactory(customer=bo, shop=acme.shop, external_id="a-2", email="bo@acme-alias.example", first_name="Bo")
    IdentityFactory(customer=bo, shop=beta, external_id="b-2", email="bo@example.com", first_name="Bo")
    for shop, body in ((acme.shop, "Bo liked it at Acme"), (beta, "Bo liked it at Beta")):
        product = Product.objects.create(shop=shop, sku="MUG", name="Mug", price=Decimal("9.00"), currency="USD")
        Review.objects.create(shop=shop, customer=bo, product=product, rating=5, body=body, created_at=timezone.now())
    cy = CustomerFactory(email="cy@example.com", first_name="Cy")
    IdentityFactory(customer=cy, shop=beta, external_id="b-3", email="cy@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, acme, "shop/redact", {"shop_id": 954889, "shop_domain": "acme.myshopify.com"})
    request = PrivacyRequest.objects.get(kind="shop_redact")
    return {"acme": acme, "beta": beta, "ann": ann, "bo": bo, "cy": cy, "request": request}


def signed_in(client, django_user_model, role: str):
    user = django_user_model.objects.create_user(f"{role.split()[0].lower()}-shop-erase", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


def test_a_manager_confirms_and_the_background_work_erases_the_shops_data(client, django_user_model, world):
    manager = signed_in(client, django_user_model, MANAGER)
    request = world["request"]
    url = reverse("admin:crm_privacyrequest_erase_shop", args=[request.pk])
    page = client.get(reverse("admin:crm_privacyrequest_change", args=[request.pk])).content.decode()
    assert "Erase the shop&#x27;s data…" in page or "Erase the shop's data…" in page

    confirm = client.get(url).content.decode()
    # Ann only (Bo is Beta's too, Cy only Beta's); no raw delivery but the request's own
    # (kept); one connection; one API key.
    assert [n.strip() for n in _cells(confirm)] == ["1", "1", "0", "1", "1"]

    client.post(url, {"confirm": "erase"})

    request.refresh_from_db()
    assert request.erasing_since is not None and request.erasing_by == manager and request.erasing_total == 1
    assert not ShopConnection.objects.get(pk=world["acme"].pk).is_active  # nothing more comes in
    assert not ApiKey.objects.filter(shop=world["acme"].shop, revoked_at__isnull=True).exists()
    progress = client.get(reverse("admin:crm_privacyrequest_change", args=[request.pk])).content.decode()
    assert "0 of 1" in progress and "Close as done" not in progress

    assert continue_shop_erasures() == 1

    request.refresh_from_db()
    ann, bo, cy = (Customer.objects.get(pk=world[k].pk) for k in ("ann", "bo", "cy"))
    assert (ann.email, ann.first_name, ann.phone) == ("", "", "")
    assert ErasureLog.objects.get().customer_id == ann.pk and ErasureLog.objects.get().request == request
    assert Order.objects.get(customer=ann).total == Decimal("40.00")  # the accounts keep the order
    # Bo stays, as Beta knows him; only Acme's copy of him is blanked.
    assert (bo.email, bo.first_name) == ("bo@example.com", "Bo")
    identities = dict(CustomerIdentity.objects.filter(customer=bo).values_list("shop__slug", "email"))
    assert identities == {"acme": "", "beta": "bo@example.com"}
    reviews = dict(Review.objects.filter(customer=bo).values_list("shop__slug", "body"))
    assert reviews == {"acme": "[erased]", "beta": "Bo liked it at Beta"}
    assert (cy.email, cy.first_name) == ("cy@example.com", "Cy")
    # The request's own delivery stays, emptied; the request is closed and says what was done.
    assert [bytes(b) for b in WebhookDelivery.objects.values_list("body", flat=True)] == [b""]
    assert (request.status, request.completed_by, request.customer) == ("done", manager, None)
    assert (
        "1 customers known only to it erased" in request.note and "about 1 customers other shops know" in request.note
    )


def test_a_second_shops_erasure_erases_whom_only_erased_shops_knew(client, django_user_model, world):
    """Bo was Acme's and Beta's: once both are erased, no one holds him."""
    signed_in(client, django_user_model, MANAGER)
    client.post(reverse("admin:crm_privacyrequest_erase_shop", args=[world["request"].pk]), {"confirm": "erase"})
    continue_shop_erasures()
    beta_request = PrivacyRequest.objects.create(
        kind="shop_redact", shop=world["beta"], received_at=timezone.now(), due_at=timezone.now()
    )
    client.post(reverse("admin:crm_privacyrequest_erase_shop", args=[beta_request.pk]), {"confirm": "erase"})
    continue_shop_erasures()

    bo, cy = (Customer.objects.get(pk=world[k].pk) for k in ("bo", "cy"))
    assert (bo.email, bo.first_name, cy.email, cy.first_name) == ("", "", "", "")


def test_someone_erased_before_and_sent_again_is_erased_again(client, django_user_model, world, admin_user):
    signed_in(client, django_user_model, MANAGER)
    ann = world["ann"]
    customer_erase(customer_id=ann.pk, user=admin_user)
    Customer.objects.filter(pk=ann.pk).update(email="ann@again.example", first_name="Ann")  # the shop sent her again
    CustomerIdentity.objects.filter(customer=ann).update(email="ann@again.example")

    client.post(reverse("admin:crm_privacyrequest_erase_shop", args=[world["request"].pk]), {"confirm": "erase"})
    continue_shop_erasures()

    ann.refresh_from_db()
    assert (ann.email, ann.first_name) == ("", "")
    assert not CustomerIdentity.objects.filter(email="ann@again.example").exists()


def test_a_duplicate_the_shop_sent_and_merged_into_someone_shared_loses_its_profile(client, django_user_model, world):
    signed_in(client, django_user_model, MANAGER)
    dup = CustomerFactory(email="bo.acme@example.com", first_name="Bob", phone="+1 555 0177")
    IdentityFactory(customer=dup, shop=world["acme"].shop, external_id="a-9", email="bo.acme@example.com")
    customers_merge(survivor_id=world["bo"].pk, merged_id=dup.pk)

    client.post(reverse("admin:crm_privacyrequest_erase_shop", args=[world["request"].pk]), {"confirm": "erase"})
    continue_shop_erasures()

    dup.refresh_from_db()
    assert (dup.email, dup.first_name, dup.phone) == ("", "", "")
    assert Customer.objects.get(pk=world["bo"].pk).email == "bo@example.com"


def test_the_work_goes_on_a_batch_at_a_time_and_skips_whom_it_erased(client, django_user_model, world):
    signed_in(client, django_user_model, MANAGER)
    request = world["request"]
    more = [CustomerFactory(email=f"p{i}@example.com") for i in range(3)]
    for i, person in enumerate(more):
        IdentityFactory(customer=person, shop=world["acme"].shop, external_id=f"a-x{i}")
    client.post(reverse("admin:crm_privacyrequest_erase_shop", args=[request.pk]), {"confirm": "erase"})

    # A run holding the request (its lease) keeps a second one out.
    PrivacyRequest.objects.filter(pk=request.pk).update(erasing_lease_until=timezone.now() + timedelta(minutes=1))
    assert shop_redact_continue(request_id=request.pk, seconds=0, batch=2) is False
    assert not ErasureLog.objects.exists()
    PrivacyRequest.objects.filter(pk=request.pk).update(erasing_lease_until=None)

    steps = [shop_redact_continue(request_id=request.pk, seconds=0, batch=2) for _ in range(3)]

    assert steps == [False, False, True]
    assert ErasureLog.objects.filter(request=request).count() == 4
    # Erasing one of them again for the same request (a second run's overlap) records nothing new.
    customer_erase(customer_id=more[0].pk, request=request)
    assert ErasureLog.objects.filter(request=request).count() == 4
    assert not Customer.objects.filter(email__endswith="@example.com").exclude(pk__in=[world["bo"].pk, world["cy"].pk])
    request.refresh_from_db()
    assert request.status == "done"


def test_an_agent_cannot_close_a_shop_erasure_as_done(client, django_user_model, world):
    signed_in(client, django_user_model, SUPPORT_AGENT)
    request = world["request"]
    page = client.get(reverse("admin:crm_privacyrequest_change", args=[request.pk])).content.decode()

    response = client.post(
        reverse("admin:crm_privacyrequest_close", args=[request.pk]), {"status": "done", "note": "x"}
    )

    assert "Close as done" not in page and response.status_code == 403
    request.refresh_from_db()
    assert request.status == "open"


@pytest.mark.parametrize("role", [SUPPORT_AGENT, MARKETER])
def test_only_a_manager_erases_a_shop(client, django_user_model, world, role):
    signed_in(client, django_user_model, role)
    request = world["request"]

    response = client.post(reverse("admin:crm_privacyrequest_erase_shop", args=[request.pk]), {"confirm": "erase"})

    assert response.status_code == 403
    request.refresh_from_db()
    assert request.erasing_since is None and ShopConnection.objects.get(pk=world["acme"].pk).is_active


def test_a_started_shop_erasure_is_neither_started_twice_nor_closed_by_hand(client, django_user_model, world):
    signed_in(client, django_user_model, MANAGER)
    request = world["request"]
    url = reverse("admin:crm_privacyrequest_erase_shop", args=[request.pk])
    client.post(url, {"confirm": "erase"})
    started = PrivacyRequest.objects.get(pk=request.pk).erasing_since

    again = client.post(url, {"confirm": "erase"}, follow=True).content.decode()
    closed = client.post(
        reverse("admin:crm_privacyrequest_close", args=[request.pk]), {"status": "refused", "note": "no"}, follow=True
    ).content.decode()

    assert "being answered already" in again
    assert "closes itself when it is done" in closed
    request.refresh_from_db()
    assert (request.erasing_since, request.status) == (started, "open")


def _cells(page: str) -> list[str]:
    """The confirmation table's counts, in order."""
    return re.findall(r'<td class="text-right px-3 py-2">([^<]*)</td>', page)
