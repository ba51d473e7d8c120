"""The stored reply is the customer's own words: quoted history and signatures cut, as the
common mail clients write them; HTML-only mail made readable; the original kept."""

import pytest

from customers.tests.factories import CustomerFactory
from messaging.tests.fixtures import branded_shop
from support.inbound import inbound_receive
from support.inbound.trimming import HTML_INPUT_MAX, INPUT_MAX, body_text, reply_text
from support.tests.inbound_mail import quoted, reply_to, sent_email
from support.text import MAX_BODY
from support.tickets import TicketData, ticket_open

OUTLOOK = """Yes, please refund it.

Regards,
Ann

-----Original Message-----
From: Acme Coffee <hello@acme.example>
Sent: Friday, December 4, 2026 10:02 AM
To: ann@example.com
Subject: Re: Where is my parcel? [#1]

It left our warehouse today.
"""

OUTLOOK_NEW = """Yes, please refund it.

From: Acme Coffee <hello@acme.example>
Sent: Friday, December 4, 2026 10:02
To: Ann Lee <ann@example.com>
Subject: Re: Where is my parcel? [#1]

It left our warehouse today.
"""

APPLE = """Perfect, thank you.

Sent from my iPhone

> On 4 Dec 2026, at 10:02, Acme Coffee <hello@acme.example> wrote:
>
> It left our warehouse today.
"""

SIGNATURE = "The box was damaged, photo attached.\n\n-- \nAnn Lee\nLee & Co, 12 High Street\n"

GERMAN = """Danke, alles angekommen.

Am 04.12.2026 um 10:02 schrieb Acme Coffee <hello@acme.example>:
> It left our warehouse today.
"""


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (OUTLOOK, "Yes, please refund it."),  # the sign-off goes with the signature
        (OUTLOOK_NEW, "Yes, please refund it."),
        (APPLE, "Perfect, thank you."),
        (SIGNATURE, "The box was damaged, photo attached."),
        (GERMAN, "Danke, alles angekommen."),
        ("> only a quote\n> of the last email", "> only a quote\n> of the last email"),  # nothing else: kept whole
    ],
    ids=["outlook-original-message", "outlook-from-sent", "apple-mail", "dash-dash-signature", "german", "quote-only"],
)
def test_the_reply_is_cut_where_the_mail_client_quoted(text, kept):
    assert reply_text(text) == kept


pytestmark = pytest.mark.django_db


@pytest.fixture
def thread(django_user_model):
    shop = branded_shop()
    customer = CustomerFactory(email="ann@example.com", first_name="Ann")
    ticket, _ = ticket_open(customer=customer, shop=shop, data=TicketData(subject="Where is my parcel?", body="Hi"))
    agent = django_user_model.objects.create_user(username="bo", is_staff=True)
    return ticket, sent_email(ticket, agent)


def test_a_gmail_reply_keeps_the_reply_and_the_original_keeps_the_quote(thread):
    ticket, wire = thread
    text = f"It came, thanks! 3 < 4 & <b>not bold</b>\n\n{quoted(wire)}"

    email = inbound_receive(reply_to(wire, text), via="imap").email

    assert email.ticket_message.text == "It came, thanks! 3 < 4 & <b>not bold</b>"
    assert email.ticket_message.body == "It came, thanks! 3 &lt; 4 &amp; &lt;b&gt;not bold&lt;/b&gt;"
    assert b"It left our warehouse today." in bytes(email.raw)


def test_an_html_only_email_is_stored_as_readable_sanitised_text(thread):
    ticket, wire = thread
    html = (
        '<div dir="ltr"><p>Hello,</p><p>The <b>lid</b> is <a href="https://x.example/p.jpg">broken</a>.</p>'
        "<script>alert(1)</script><img src=x onerror=alert(1)></div>"
        '<div class="gmail_quote"><div class="gmail_attr">On Fri, 4 Dec 2026 at 10:02, Acme Coffee '
        "&lt;hello@acme.example&gt; wrote:<br></div><blockquote>It left our warehouse today.</blockquote></div>"
    )

    email = inbound_receive(reply_to(wire, "", html=html), via="imap").email

    body = email.ticket_message.body
    assert "<script" not in body and "onerror" not in body and "warehouse" not in body
    assert email.ticket_message.text == "Hello,\n\nThe lid is broken."


def test_a_huge_email_is_cut_to_the_desks_limit_with_a_note(thread):
    ticket, wire = thread
    email = inbound_receive(reply_to(wire, "<&> " * 40_000), via="imap").email

    body = email.ticket_message.body
    assert len(body) <= MAX_BODY
    assert body.rstrip("</p>").endswith("[… the rest of this email is kept with the original.]")
    assert len(bytes(email.raw)) > 160_000


def test_a_five_megabyte_email_is_trimmed_from_its_start_and_kept_whole_as_sent(thread):
    ticket, wire = thread
    text = "Please read all of this. " * 200_000  # 5 MB on one line

    email = inbound_receive(reply_to(wire, text), via="imap").email

    body = email.ticket_message.text
    assert email.outcome == "appended" and email.ticket_id == ticket.pk
    assert body.startswith("Please read all of this.")
    assert body.endswith("[… the rest of this email is kept with the original.]")
    assert len(email.ticket_message.body) <= MAX_BODY
    assert len(bytes(email.raw)) > 5_000_000


def test_an_email_of_quote_header_lookalikes_is_cut_before_the_parser_reads_it(thread):
    ticket, wire = thread
    line = "On Mon, 30 Nov 2026 at 10:02, Acme <a@b.c> said something here\n"
    text = "My order is wrong.\n" + line * (400_000 // len(line))

    email = inbound_receive(reply_to(wire, text), via="imap").email

    assert email.outcome == "appended"
    assert email.ticket_message.text.startswith("My order is wrong.")
    assert len(email.ticket_message.body) <= MAX_BODY
    assert len(bytes(email.raw)) > 400_000


def test_body_text_reads_at_most_input_max_characters_of_text_or_html():
    assert body_text("a\r\nb", "") == "a\nb"
    cut = body_text("x" * (INPUT_MAX + 10), "")
    assert cut == "x" * INPUT_MAX + "\n\n[… the rest of this email is kept with the original.]"
    html = body_text("", "<p>" + "y " * HTML_INPUT_MAX + "</p>")
    assert html.endswith("[… the rest of this email is kept with the original.]")
    assert len(html) <= INPUT_MAX + 60
