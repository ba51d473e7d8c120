"""Builders for the inbound tests: the email the CRM really sent for a ticket (through the
outbox backend, as on the wire), and a customer's reply to it as mail clients write them."""

from __future__ import annotations

from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from django.utils import timezone

from messaging.models import OutboxEmail
from messaging.sending import messages_send
from support.tickets import ticket_reply


def sent_email(ticket, agent, body: str = "<p>It left our warehouse today.</p>", now=None) -> EmailMessage:
    """An agent's public reply on ``ticket``, sent; the email as it went out."""
    reply = ticket_reply(ticket=ticket, body=body, user=agent, now=now)
    messages_send()
    raw = OutboxEmail.objects.get(message__key=f"ticket-reply:{reply.pk}").raw
    message = message_from_string(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def quoted(wire: EmailMessage) -> str:
    """The sent email's text quoted as Gmail does: its header line, then "> " lines."""
    text = wire.get_body(("plain",)).get_content()
    lines = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
    return f"On Fri, 4 Dec 2026 at 10:02, {wire['From']} wrote:\n{lines}\n"


def reply_to(
    wire: EmailMessage | None,
    text: str,
    *,
    sender: str = "Ann Lee <ann@example.com>",
    to: str | None = None,
    subject: str | None = None,
    html: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    threading: bool = True,
    message_id: str | None = None,
) -> bytes:
    """A customer's email answering ``wire`` (to its Reply-To, threaded), or a new email
    (``wire`` None) to ``to``. ``attachments``: (filename, MIME type, bytes)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to or (wire["Reply-To"] if wire is not None else "support@acme.example")
    message["Subject"] = subject if subject is not None else (f"Re: {wire['Subject']}" if wire else "Hello")
    message["Date"] = format_datetime(timezone.now())
    message["Message-ID"] = message_id or make_msgid(domain="mail.example.net")
    if wire is not None and threading:
        message["In-Reply-To"] = wire["Message-ID"]
        message["References"] = f"{wire['References']} {wire['Message-ID']}"
    for name, value in (headers or {}).items():
        message[name] = value
    if html is not None and text == "":
        message.set_content(html, subtype="html")
    else:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    for filename, content_type, content in attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()
