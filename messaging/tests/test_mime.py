"""The bulk MIME form (``messaging.mime.BulkEmail``) as a standard reader sees it on the wire:
non-ASCII names and subjects, CRLF lines, long headers, and no header injection."""

import pytest
from django.core.mail.backends.smtp import EmailBackend as DjangoSmtpBackend

from customers.tests.factories import CustomerFactory
from messaging.backends import SmtpBackend
from messaging.mime import BulkEmail
from messaging.models import Message, MessageStatus
from messaging.sending import messages_send
from messaging.services import message_queue
from messaging.tests.fixtures import branded_shop

pytestmark = pytest.mark.django_db


def test_non_ascii_names_and_subjects_arrive_as_written(smtp):
    shop = branded_shop(from_name="Café Zoë", from_email="hello@cafe.example")
    shop.name = "Café Zoë"
    shop.save()
    customer = CustomerFactory(email="jose@example.com", first_name="José", last_name="Núñez")
    message_queue(key="test:jose", template="test", customer_id=customer.pk, shop_id=shop.pk)

    assert messages_send().sent == 1

    [(_, raw)] = smtp.received
    assert raw.isascii()  # every header encoded, the bodies quoted-printable
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF lines only
    [wire] = smtp.messages()
    assert wire["From"] == "Café Zoë <hello@cafe.example>"
    assert wire["Subject"] == "A test from Café Zoë"
    assert "Hello José," in wire.get_body(("plain",)).get_content()
    assert "Hello José," in wire.get_body(("html",)).get_content()
    message = Message.objects.get(key="test:jose")
    assert message.status == MessageStatus.SENT
    assert message.headers["From"] == "Café Zoë <hello@cafe.example>"


def test_a_long_references_header_is_folded_and_reads_back_whole(smtp, shop, customer):
    references = " ".join(f"<ticket-reply-{i}-0123456789abcdef@crm.example>" for i in range(40))
    message_queue(
        key="test:thread",
        template="test",
        customer_id=customer.pk,
        shop_id=shop.pk,
        headers={"References": references, "In-Reply-To": "<ticket-reply-39-0123456789abcdef@crm.example>"},
    )

    assert messages_send().sent == 1

    [(_, raw)] = smtp.received
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    [wire] = smtp.messages()
    assert str(wire["References"]).split() == references.split()


def test_a_line_break_in_a_header_is_refused_not_sent_as_another_header():
    email = BulkEmail(
        subject="Hello\r\nBcc: everyone@example.com",
        body="text",
        from_email="a@example.com",
        to=["b@example.com"],
        headers={"Message-ID": "<x@example.com>"},
    )

    with pytest.raises(ValueError, match="linefeed"):
        email.message()


def test_an_international_address_is_left_to_djangos_own_builder():
    email = BulkEmail(
        subject="Hi", body="text", from_email="a@bücher.example", to=["b@example.com"], headers={"Message-ID": "<x@y>"}
    )

    assert "xn--bcher-kva" in str(email.message()["From"])


@pytest.mark.parametrize(
    "address",
    [
        "a@b.example",
        "Acme Coffee <hello@acme.example>",
        '"Acme, Inc." <a@b.example>',
        "Zoë <z@b.example>",
        "o'neil+news@b.example",
        "a@bücher.example",
    ],
)
def test_the_smtp_backend_reads_envelope_addresses_as_djangos_own_parser_does(address):
    ours = SmtpBackend(alias="test", host="127.0.0.1", port=25, username="", password="")
    django = DjangoSmtpBackend(alias="test", host="127.0.0.1", port=25, username="", password="")

    assert ours.prep_address(address) == django.prep_address(address)


@pytest.mark.parametrize("address", ["a@b.example>", "<a@b.example", "x@y\r\nBcc: z@w", "Name <a@b.example> extra"])
def test_the_smtp_backend_refuses_what_djangos_parser_refuses(address):
    ours = SmtpBackend(alias="test", host="127.0.0.1", port=25, username="", password="")

    with pytest.raises(ValueError):
        ours.prep_address(address)
