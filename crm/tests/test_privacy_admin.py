"""The privacy-request queue in the admin: staff take a request, answer it with an export or
an erasure, each as their role allows; a customer is never deleted, and the page says what
to do instead."""

import io
import zipfile
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from crm.privacy.models import ErasureLog, PrivacyRequest
from crm.roles import MANAGER, MARKETER, SUPPORT_AGENT
from customers.models import Customer, Order
from customers.tests.factories import CustomerFactory, IdentityFactory, OrderFactory, ShopFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada():
    customer = CustomerFactory(email="ada@example.com", email_normalized="ada@example.com", last_name="Lovelace")
    IdentityFactory(customer=customer, shop=ShopFactory(slug="privacy"), external_id="ada-1", email="ada@example.com")
    OrderFactory(customer=customer, total=40)
    return customer


def signed_in(client, django_user_model, role: str):
    user = django_user_model.objects.create_user(f"{role.split()[0].lower()}-privacy", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


def add_request(client, ada, kind="customer_redact"):
    received = (timezone.now() - timedelta(days=2)).strftime("%Y-%m-%d")
    return client.post(
        reverse("admin:crm_privacyrequest_add"),
        {
            "kind": kind,
            "email": "ADA@example.com",
            "received_at_0": received,
            "received_at_1": "10:00:00",
            "note": "Asked by phone; identity checked against the order number.",
        },
    )


def test_an_agent_takes_a_request_the_customer_is_found_and_it_is_due_in_a_month(client, django_user_model, ada):
    agent = signed_in(client, django_user_model, SUPPORT_AGENT)

    response = add_request(client, ada, kind="data_request")

    assert response.status_code == 302, response.content.decode()[:2000]
    request = PrivacyRequest.objects.get()
    assert (request.customer, request.source, request.requested_by, request.status) == (ada, "staff", agent, "open")
    assert request.due_at - request.received_at == timedelta(days=30)
    page = client.get(reverse("admin:crm_privacyrequest_change", args=[request.pk])).content.decode()
    assert "Download the customer" in page and "Erase the customer" not in page


def test_an_agent_exports_and_the_request_is_answered(client, django_user_model, ada):
    agent = signed_in(client, django_user_model, SUPPORT_AGENT)
    add_request(client, ada, kind="data_request")
    request = PrivacyRequest.objects.get()

    response = client.post(reverse("admin:crm_privacyrequest_export", args=[request.pk]))

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert b"ada@example.com" in archive.read("customers.Customer.json")
    request.refresh_from_db()
    assert (request.status, request.completed_by) == ("done", agent)


def test_an_agent_cannot_erase_even_by_url(client, django_user_model, ada):
    signed_in(client, django_user_model, SUPPORT_AGENT)
    add_request(client, ada)
    request = PrivacyRequest.objects.get()

    url = reverse("admin:crm_privacyrequest_erase", args=[request.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"confirm": "erase"}).status_code == 403
    assert Customer.objects.get(pk=ada.pk).email == "ada@example.com"


def test_a_marketer_sees_no_privacy_requests(client, django_user_model, ada):
    signed_in(client, django_user_model, MARKETER)
    assert client.get(reverse("admin:crm_privacyrequest_changelist")).status_code == 403
    PrivacyRequest.objects.create(
        kind="data_request", customer=ada, received_at=timezone.now(), due_at=timezone.now() + timedelta(days=30)
    )
    assert (
        client.post(reverse("admin:crm_privacyrequest_export", args=[PrivacyRequest.objects.get().pk])).status_code
        == 403
    )


def test_a_manager_confirms_and_erases_and_the_request_is_closed(client, django_user_model, ada):
    manager = signed_in(client, django_user_model, MANAGER)
    add_request(client, ada)
    request = PrivacyRequest.objects.get()
    url = reverse("admin:crm_privacyrequest_erase", args=[request.pk])

    confirm = client.get(url).content.decode()
    assert "cannot be undone" in confirm and "Customer profiles" in confirm or "customer" in confirm.lower()
    erased = client.post(url, {"confirm": "erase"}, follow=True)

    assert "is erased (" in erased.content.decode()
    ada.refresh_from_db()
    assert (ada.email, ada.last_name, ada.email_normalized) == ("", "", None)
    assert Order.objects.filter(customer=ada).count() == 1
    request.refresh_from_db()
    assert (request.status, request.completed_by, request.email) == ("done", manager, "")
    assert ErasureLog.objects.get().erased_by == manager


def test_refusing_needs_a_reason(client, django_user_model, ada):
    signed_in(client, django_user_model, MANAGER)
    add_request(client, ada)
    request = PrivacyRequest.objects.get()
    close = reverse("admin:crm_privacyrequest_close", args=[request.pk])

    client.post(close, {"status": "refused", "note": ""})
    assert PrivacyRequest.objects.get().status == "open"
    client.post(close, {"status": "refused", "note": "Could not verify who asked."})
    assert PrivacyRequest.objects.get().status == "refused"


def test_the_queue_lists_open_requests_by_due_date_and_marks_late_ones(client, django_user_model, ada):
    signed_in(client, django_user_model, MANAGER)
    now = timezone.now()
    PrivacyRequest.objects.create(
        kind="data_request",
        email="late@example.com",
        received_at=now - timedelta(days=40),
        due_at=now - timedelta(days=10),
    )
    PrivacyRequest.objects.create(
        kind="data_request", email="new@example.com", received_at=now, due_at=now + timedelta(days=30)
    )

    page = client.get(reverse("admin:crm_privacyrequest_changelist") + "?status__exact=open").content.decode()

    assert page.index("late@example.com") < page.index("new@example.com")
    assert "(late)" in page


def test_deleting_a_customer_is_refused_with_the_way_to_erase(admin_client, ada):
    response = admin_client.get(reverse("admin:customers_customer_delete", args=[ada.pk]), follow=True)

    assert "Customers are not deleted" in response.content.decode()
    assert "privacy request" in response.content.decode()
    assert Customer.objects.filter(pk=ada.pk).exists()
    listing = admin_client.get(reverse("admin:customers_customer_changelist")).content.decode()
    assert "delete_selected" not in listing


def test_an_open_request_is_linked_to_its_customer_by_hand(client, django_user_model, ada):
    signed_in(client, django_user_model, MANAGER)
    now = timezone.now()
    request = PrivacyRequest.objects.create(
        kind="data_request", email="other-spelling@example.com", received_at=now, due_at=now + timedelta(days=30)
    )
    url = reverse("admin:crm_privacyrequest_change", args=[request.pk])
    assert "No customer is linked yet" in client.get(url).content.decode()

    refused = client.post(url, {"customer": ada.pk, "note": "Same person?"})
    assert "other-spelling@example.com is not an address of the customer picked" in refused.content.decode()
    request.refresh_from_db()
    assert request.customer is None

    client.post(url, {"customer": ada.pk, "identity_checked": "on", "note": "Same person: checked by phone."})

    request.refresh_from_db()
    assert request.customer == ada and request.email == "other-spelling@example.com"


def test_a_new_request_naming_someone_else_is_refused_for_the_customer_picked(client, django_user_model, ada):
    signed_in(client, django_user_model, SUPPORT_AGENT)
    stranger = CustomerFactory(email="stranger@example.com")
    received = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d")
    form = {
        "kind": "customer_redact",
        "customer": stranger.pk,
        "email": "ADA@example.com",
        "shop": ada.identities.get().shop_id,
        "customer_external_id": "ada-1",
        "received_at_0": received,
        "received_at_1": "10:00:00",
        "note": "By email.",
    }

    page = client.post(reverse("admin:crm_privacyrequest_add"), form).content.decode()

    assert "ADA@example.com is not an address of the customer picked" in page
    assert "knows no customer ada-1 that is the customer picked" in page
    assert not PrivacyRequest.objects.exists()
    # The same request for Ada is taken.
    assert client.post(reverse("admin:crm_privacyrequest_add"), form | {"customer": ada.pk}).status_code == 302
    assert PrivacyRequest.objects.get().customer == ada


def test_the_360_page_opens_a_request_for_the_customer_to_those_who_may(client, django_user_model, ada):
    signed_in(client, django_user_model, SUPPORT_AGENT)
    page = client.get(reverse("admin:crm_customer360_change", args=[ada.pk])).content.decode()
    link = reverse("admin:crm_privacyrequest_add") + f"?customer={ada.pk}"
    assert link in page
    form = client.get(link).content.decode()
    assert f'value="{ada.pk}" selected' in form


def test_the_360_page_offers_no_request_to_a_marketer(client, django_user_model, ada):
    signed_in(client, django_user_model, MARKETER)
    page = client.get(reverse("admin:crm_customer360_change", args=[ada.pk])).content.decode()
    assert "privacyrequest" not in page


def test_an_export_does_not_answer_an_erasure_request(client, django_user_model, ada):
    signed_in(client, django_user_model, SUPPORT_AGENT)
    add_request(client, ada)  # an erasure
    erasure = PrivacyRequest.objects.get()

    assert client.post(reverse("admin:crm_privacyrequest_export", args=[erasure.pk])).status_code == 200

    erasure.refresh_from_db()
    assert erasure.status == "open"
    export = PrivacyRequest.objects.exclude(pk=erasure.pk).get()
    assert (export.kind, export.status, export.customer) == ("data_request", "done", ada)


def test_an_agent_cannot_close_an_erasure_as_done_and_closing_needs_a_note(client, django_user_model, ada):
    signed_in(client, django_user_model, SUPPORT_AGENT)
    add_request(client, ada)
    erasure = PrivacyRequest.objects.get()
    close = reverse("admin:crm_privacyrequest_close", args=[erasure.pk])

    assert client.post(close, {"status": "done", "note": "Sorted."}).status_code == 403
    client.post(close, {"status": "refused", "note": " "})
    assert PrivacyRequest.objects.get().status == "open"
    client.post(close, {"status": "refused", "note": "Could not verify who called."})
    assert PrivacyRequest.objects.get().status == "refused"
    # Closed, it is the record: no second answer, no change.
    client.post(close, {"status": "done", "note": "changed my mind"})
    assert PrivacyRequest.objects.get().status == "refused"


def test_only_an_open_erasure_request_erases_and_only_once(client, django_user_model, ada):
    signed_in(client, django_user_model, MANAGER)
    add_request(client, ada, kind="data_request")
    export_request = PrivacyRequest.objects.get()
    client.post(reverse("admin:crm_privacyrequest_erase", args=[export_request.pk]), {"confirm": "erase"})
    assert Customer.objects.get(pk=ada.pk).email == "ada@example.com"

    add_request(client, ada)
    erasure = PrivacyRequest.objects.get(kind="customer_redact")
    url = reverse("admin:crm_privacyrequest_erase", args=[erasure.pk])
    client.post(url, {"confirm": "erase"})
    again = client.post(url, {"confirm": "erase"}, follow=True).content.decode()

    assert "Done already" in again or "done already" in again
    assert ErasureLog.objects.count() == 1


def test_the_queue_puts_open_requests_before_answered_ones(client, django_user_model, ada):
    signed_in(client, django_user_model, MANAGER)
    now = timezone.now()
    PrivacyRequest.objects.create(
        kind="data_request",
        email="answered@example.com",
        received_at=now - timedelta(days=60),
        due_at=now - timedelta(days=30),
        status="done",
    )
    PrivacyRequest.objects.create(
        kind="data_request", email="waiting@example.com", received_at=now, due_at=now + timedelta(days=30)
    )

    page = client.get(reverse("admin:crm_privacyrequest_changelist")).content.decode()

    assert page.index("waiting@example.com") < page.index("answered@example.com")


def test_the_360_page_says_a_customer_was_erased(admin_client, ada, admin_user):
    from crm.privacy.erasure import customer_erase

    url = reverse("admin:crm_customer360_change", args=[ada.pk])
    assert "personal data was erased" not in admin_client.get(url).content.decode()
    customer_erase(customer_id=ada.pk, user=admin_user)
    assert "personal data was erased" in admin_client.get(url).content.decode()


def test_the_erased_list_is_searched_by_the_whole_address(admin_client, ada, admin_user):
    from crm.privacy.erasure import customer_erase

    customer_erase(customer_id=ada.pk, user=admin_user)
    listing = reverse("admin:customers_erasedemail_changelist")

    assert "1 result" in admin_client.get(listing + "?q=ADA@example.com").content.decode()
    assert "0 results" in admin_client.get(listing + "?q=someone@example.com").content.decode()
