"""Attachments of inbound email: kept within the settings' limits, refused ones listed with
why, and served only to staff who may see the ticket."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from crm.roles import SUPPORT_AGENT
from customers.tests.factories import CustomerFactory
from messaging.tests.fixtures import branded_shop
from support.inbound import inbound_receive
from support.models import TicketAttachment
from support.tests.inbound_mail import reply_to, sent_email
from support.tickets import TicketData, ticket_open

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.SUPPORT_INBOUND_MAX_ATTACHMENT_BYTES = 1000
    settings.SUPPORT_INBOUND_MAX_EMAIL_BYTES = 1500
    settings.SUPPORT_INBOUND_ATTACHMENT_TYPES = ["image/*", "application/pdf"]
    return tmp_path


@pytest.fixture
def thread(django_user_model):
    shop = branded_shop()
    customer = CustomerFactory(email="ann@example.com", first_name="Ann")
    ticket, _ = ticket_open(customer=customer, shop=shop, data=TicketData(subject="Broken lid", body="Hi"))
    agent = django_user_model.objects.create_user(username="bo", is_staff=True)
    return ticket, sent_email(ticket, agent)


def test_files_within_the_limits_are_kept_and_the_rest_listed_with_why(thread, media):
    ticket, wire = thread
    files = (
        ("photo.png", "image/png", PNG),
        ("../../etc/receipt.pdf", "application/pdf", b"%PDF-1.4 " + b"x" * 900),
        ("big.png", "image/png", b"x" * 1001),
        ("tool.exe", "application/octet-stream", b"MZ"),
        ("second.pdf", "application/pdf", b"%PDF " + b"y" * 600),  # 108 + 909 kept; 600 more passes 1500
    )

    email = inbound_receive(reply_to(wire, "Photos attached", attachments=files), via="imap").email

    rows = list(TicketAttachment.objects.filter(message=email.ticket_message))
    assert [(r.filename, r.size, r.skipped) for r in rows] == [
        ("photo.png", 108, ""),
        ("receipt.pdf", 909, ""),
        ("big.png", 1001, "larger than 1000 bytes, the most for one file"),
        ("tool.exe", 2, "files named .exe are not accepted"),
        ("second.pdf", 605, "the email's files would pass 1.5 KB, the most for one email"),
    ]
    kept = rows[0].file
    assert kept.name.startswith(f"support/attachments/{ticket.pk}/") and kept.read() == PNG
    assert (media / rows[1].file.name).parent == media / "support" / "attachments" / str(ticket.pk)
    assert [r.file.name for r in rows[2:]] == ["", "", ""]


def test_a_file_is_judged_by_its_name_too_not_only_by_the_type_its_sender_declared(thread, settings):
    ticket, wire = thread
    settings.SUPPORT_INBOUND_MAX_EMAIL_BYTES = 10_000
    files = (
        ("looks.png.exe", "image/png", PNG),  # a program posing as a picture
        ("RUN.CMD. ", "application/pdf", b"%PDF"),  # Windows drops the trailing dot and space
        ("invoice.js", "application/pdf", b"%PDF"),
        ("invoice.html", "application/pdf", b"%PDF"),  # .html is text/html, not accepted
        ("scan.pdf", "application/pdf", b"%PDF"),
        ("photo.jpg", "image/jpeg", PNG),
        ("notes", "image/png", PNG),  # no extension: the declared type decides
    )

    email = inbound_receive(reply_to(wire, "Files", attachments=files), via="imap").email

    rows = TicketAttachment.objects.filter(message=email.ticket_message).order_by("id")
    assert [(r.filename, r.skipped, bool(r.file)) for r in rows] == [
        ("looks.png.exe", "files named .exe are not accepted", False),
        ("RUN.CMD.", "files named .cmd are not accepted", False),
        ("invoice.js", "files named .js are not accepted", False),
        ("invoice.html", "files named .html (text/html) are not accepted", False),
        ("scan.pdf", "", True),
        ("photo.jpg", "", True),
        ("notes", "", True),
    ]


def test_image_wildcard_does_not_admit_svg_unless_it_is_listed_itself(thread, settings):
    ticket, wire = thread
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    files = (("logo.svg", "image/svg+xml", svg), ("logo.png", "image/svg+xml", svg))

    first = inbound_receive(reply_to(wire, "Logo", attachments=files), via="imap").email
    settings.SUPPORT_INBOUND_ATTACHMENT_TYPES = ["image/*", "image/svg+xml"]
    second = inbound_receive(reply_to(wire, "Logo again", attachments=files[:1]), via="imap").email

    assert [r.skipped for r in first.ticket_message.attachments.order_by("id")] == [
        "files of type image/svg+xml are not accepted",
        "files of type image/svg+xml are not accepted",
    ]
    assert [(r.skipped, r.size) for r in second.ticket_message.attachments.all()] == [("", len(svg))]


def test_staff_who_may_see_the_ticket_download_its_files_and_no_one_else(thread, client, django_user_model):
    ticket, wire = thread
    email = inbound_receive(reply_to(wire, "Photo", attachments=(("p.png", "image/png", PNG),)), via="imap").email
    attachment = email.ticket_message.attachments.get()
    url = reverse("admin:support_ticket_attachment", args=[ticket.pk, attachment.pk])

    assert client.get(url).status_code == 302  # to the sign-in page
    nobody = django_user_model.objects.create_user("nobody", is_staff=True)
    client.force_login(nobody)
    assert client.get(url).status_code == 404  # as if there were no such ticket
    agent = django_user_model.objects.create_user("sam", is_staff=True)
    agent.groups.add(Group.objects.get(name=SUPPORT_AGENT))
    client.force_login(agent)

    response = client.get(url)
    page = client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    other_ticket = client.get(reverse("admin:support_ticket_attachment", args=[ticket.pk + 1, attachment.pk]))

    assert response.status_code == 200 and b"".join(response.streaming_content) == PNG
    assert response["Content-Disposition"] == 'attachment; filename="p.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert f'href="{url}">p.png</a>' in page
    assert other_ticket.status_code == 404
    assert client.get(f"/media/{attachment.file.name}").status_code == 404  # MEDIA is not served


def test_a_refused_file_is_shown_on_the_ticket_page_with_why(thread, admin_client):
    ticket, wire = thread
    inbound_receive(reply_to(wire, "Tool", attachments=(("tool.bin", "application/x-msdownload", b"MZ"),)), via="imap")

    page = admin_client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()

    assert (
        "tool.bin <small>(2\xa0bytes) not kept: files of type application/x-msdownload are not accepted</small>" in page
    )


def test_agents_read_the_inbound_emails_and_their_originals_in_the_admin(thread, client, django_user_model):
    ticket, wire = thread
    email = inbound_receive(reply_to(wire, "Thanks <b>a lot</b>"), via="imap").email
    agent = django_user_model.objects.create_user("sam", is_staff=True)
    agent.groups.add(Group.objects.get(name=SUPPORT_AGENT))
    client.force_login(agent)

    listing = client.get(reverse("admin:support_inboundemail_changelist")).content.decode()
    page = client.get(reverse("admin:support_inboundemail_change", args=[email.pk])).content.decode()

    assert "ann@example.com" in listing and "added to its ticket" in listing
    assert f'href="{reverse("admin:support_ticket_change", args=[ticket.pk])}">#{ticket.pk}</a>' in page
    assert "Thanks &lt;b&gt;a lot&lt;/b&gt;" in page  # the original, escaped
