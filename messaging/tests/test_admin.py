"""The email pages of the admin: the log, a message's detail with its HTML sandboxed, the
outbox, suppressions, the preview and the test to oneself; and who may open them."""

import pytest
from django.db import transaction
from django.urls import reverse

from customers.tests.factories import CustomerFactory, OrderFactory
from messaging.models import ImapFailure, ImapMailbox, Message, MessageStatus, OutboxEmail, Suppression
from messaging.sending import messages_send
from messaging.services import message_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(shop, customer):
    message = message_queue(key="welcome:1", template="test", customer_id=customer.pk, shop_id=shop.pk)
    messages_send()
    message.refresh_from_db()
    return message


def test_a_manager_reads_the_log_and_a_message_with_its_html_sandboxed(client, login, sent):
    login("Manager")

    listing = client.get(reverse("admin:messaging_message_changelist"))
    assert listing.status_code == 200
    assert "ann@example.com" in listing.text and "A test from Acme Coffee" in listing.text

    page = client.get(reverse("admin:messaging_message_change", args=[sent.pk]))
    assert page.status_code == 200
    html_url = reverse("admin:messaging_message_html", args=[sent.pk])
    assert f'<iframe sandbox src="{html_url}"' in page.text
    assert "Hello Ann," in page.text  # the text part, as text
    assert "Acme Coffee &lt;hello@acme.example&gt;" in page.text  # the headers, escaped
    assert "4px solid #aa3300" not in page.text  # the email's own markup is only in the frame

    frame = client.get(html_url)
    assert frame.status_code == 200 and "Hello Ann," in frame.text
    policy = frame.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox;") and "script-src" not in policy and "default-src 'none'" in policy
    assert frame.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_the_log_is_searched_by_address_key_or_subject(admin_client, sent, shop):
    other = message_queue(key="promo:9", template="test", customer_id=CustomerFactory(email="bo@example.com").pk)
    url = reverse("admin:messaging_message_changelist")

    def found(term):
        return [m.pk for m in admin_client.get(url, {"q": term}).context["cl"].result_list]

    assert found("ANN@example.com") == [sent.pk]
    assert found("promo:9") == [other.pk]
    assert found("test from acme") == [sent.pk]


def test_the_log_lists_in_a_fixed_number_of_queries(admin_client, shop, django_assert_num_queries):
    url = reverse("admin:messaging_message_changelist")
    for i in range(3):
        message_queue(key=f"a:{i}", template="test", customer_id=CustomerFactory().pk, shop_id=shop.pk)
    admin_client.get(url)  # warm the session and permissions, and count the complaint-rate panel
    with django_assert_num_queries(8) as few:  # the panel is read from the cache
        admin_client.get(url, {"status": "queued"})
    for i in range(30):
        message_queue(key=f"b:{i}", template="test", customer_id=CustomerFactory().pk, shop_id=shop.pk)
    with django_assert_num_queries(len(few.captured_queries)):
        admin_client.get(url, {"status": "queued"})


def test_the_outbox_shows_what_would_have_been_sent(client, login, sent):
    login("Manager")
    kept = OutboxEmail.objects.get()

    page = client.get(reverse("admin:messaging_outboxemail_change", args=[kept.pk]))

    assert page.status_code == 200
    assert reverse("admin:messaging_outboxemail_html", args=[kept.pk]) in page.text
    assert f"Message {sent.pk}" in page.text
    assert "Content-Type: multipart/alternative" in page.text  # the raw MIME
    frame = client.get(reverse("admin:messaging_outboxemail_html", args=[kept.pk]))
    assert frame.headers["Content-Security-Policy"].startswith("sandbox;")


def test_a_suppression_added_by_hand_is_stored_lower_cased(admin_client, shop):
    response = admin_client.post(
        reverse("admin:messaging_suppression_add"),
        {"address": " Ann@Example.COM ", "reason": "unsubscribed", "shop": shop.pk, "detail": "asked on the phone"},
    )
    assert response.status_code == 302
    assert Suppression.objects.get().address == "ann@example.com"


def test_the_preview_renders_a_template_for_a_chosen_customer(client, login, shop, customer):
    login("Marketer")
    OrderFactory(customer=customer, shop=shop, external_id="#77", total="12.50", currency="GBP")
    query = {"template": "order_confirmation", "shop": shop.pk, "customer": "ann@example.com"}

    page = client.get(reverse("admin:messaging_preview"), query)

    assert page.status_code == 200
    assert "Subject: Your order #77 from Acme Coffee" in page.text
    assert "12.50 GBP" in page.text  # the plain text, on the page
    assert '<iframe sandbox src="/admin/messaging/message/preview/html/?' in page.text
    frame = client.get(reverse("admin:messaging_preview_html"), query)
    assert "Thank you, Ann!" in frame.text and frame.headers["Content-Security-Policy"].startswith("sandbox;")
    unknown = client.get(reverse("admin:messaging_preview"), {**query, "customer": "nobody@example.com"})
    assert unknown.status_code == 400 and "No customer has this email address or id." in unknown.text


def test_the_preview_takes_the_order_from_the_chosen_shop_and_shows_the_desks_templates_whole(
    client, login, shop, customer
):
    login("Marketer")
    OrderFactory(customer=customer, shop=shop, external_id="#77", total="12.50", currency="GBP")
    OrderFactory(customer=customer, external_id="#99", total="99.00", currency="USD")  # another shop, later

    order = client.get(
        reverse("admin:messaging_preview"),
        {"template": "order_confirmation", "shop": shop.pk, "customer": "ann@example.com"},
    )
    reply = client.get(
        reverse("admin:messaging_preview"), {"template": "ticket_reply", "shop": shop.pk, "customer": "ann@example.com"}
    )

    assert "Subject: Your order #77 from Acme Coffee" in order.text and "99.00" not in order.text
    assert "Subject: Re: Where is my parcel? [#1042]" in reply.text
    assert "It left our warehouse today" in reply.text


def test_a_test_is_sent_to_the_staff_member_and_logged(
    client, login, shop, customer, django_capture_on_commit_callbacks
):
    user = login("Marketer")
    user.email = "marketer@merchant.example"
    user.save()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:messaging_preview"), {"template": "test", "shop": shop.pk, "customer": str(customer.pk)}
        )

    message = Message.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:messaging_message_change", args=[message.pk])
    assert message.to_email == "marketer@merchant.example" and message.customer_id is None  # not in Ann's history
    assert message.status == MessageStatus.SENT
    kept = OutboxEmail.objects.get()
    assert kept.to == "marketer@merchant.example" and "written for Ann Lee" in kept.text


@pytest.mark.parametrize(
    ("role", "log", "preview", "outbox"),
    [("Support agent", 200, 403, 403), ("Marketer", 200, 200, 200), ("Manager", 200, 200, 200)],
)
def test_who_may_open_the_email_pages(client, login, sent, role, log, preview, outbox):
    login(role)
    assert client.get(reverse("admin:messaging_message_changelist")).status_code == log
    assert client.get(reverse("admin:messaging_message_html", args=[sent.pk])).status_code == log
    assert client.get(reverse("admin:messaging_preview")).status_code == preview
    assert client.get(reverse("admin:messaging_outboxemail_changelist")).status_code == outbox


def test_staff_without_a_role_are_refused(client, django_user_model, sent):
    client.force_login(django_user_model.objects.create_user("norole", is_staff=True))
    assert client.get(reverse("admin:messaging_message_changelist")).status_code == 403
    assert client.get(reverse("admin:messaging_message_html", args=[sent.pk])).status_code == 403
    assert client.get(reverse("admin:messaging_preview")).status_code == 403


def test_the_sidebar_lists_the_email_pages_by_permission(client, login):
    login("Marketer")
    page = client.get(reverse("admin:messaging_message_changelist")).text
    assert reverse("admin:messaging_preview") in page and reverse("admin:messaging_suppression_changelist") in page
    client.logout()
    login("Support agent")
    page = client.get(reverse("admin:messaging_message_changelist")).text
    assert reverse("admin:messaging_preview") not in page


def test_a_message_queued_in_a_transaction_shows_not_rendered_yet(admin_client, shop, customer):
    with transaction.atomic():
        message = message_queue(key="later:1", template="test", customer_id=customer.pk, shop_id=shop.pk)
    page = admin_client.get(reverse("admin:messaging_message_change", args=[message.pk]))
    assert "Not rendered yet" in page.text


def test_the_imap_mailboxes_are_named_as_people_write_them(admin_client):
    ImapMailbox.objects.create(key="desk@imap.example:993/INBOX")

    page = admin_client.get(reverse("admin:messaging_imapmailbox_changelist")).content.decode()

    assert "<title> Select IMAP mailbox to view |" in page
    assert "IMAP mailboxes" in page
    assert "Imap mailbox" not in page and "imap mailbox" not in page
    assert (ImapFailure._meta.verbose_name, ImapFailure._meta.verbose_name_plural) == ("IMAP failure", "IMAP failures")
