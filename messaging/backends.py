"""The outbox: an email backend that keeps each message in the database instead of sending it.

The embedded default (no ``EMAIL_URL``, no ``EMAIL_BACKEND``) and the tests send through it,
so a newcomer sees in the admin (Email → Outbox) what would have been sent, whole (raw MIME,
headers, both parts), and nothing leaves by surprise.
"""

from email.header import decode_header, make_header

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from messaging.models import Message, OutboxEmail


def _decoded(value) -> str:
    """A header as people read it (an RFC 2047 encoded subject or name decoded)."""
    return str(make_header(decode_header(str(value))))


def _html_part(message: EmailMessage) -> str:
    for content, mimetype in getattr(message, "alternatives", None) or ():
        if mimetype == "text/html":
            return str(content)
    return ""


class OutboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        mimes = [message.message() for message in email_messages]
        ids = [str(mime.get("Message-ID", "")) for mime in mimes]
        logged = dict(Message.objects.filter(message_id__in=[i for i in ids if i]).values_list("message_id", "id"))
        kept = OutboxEmail.objects.bulk_create(
            OutboxEmail(
                message_id=logged.get(message_id),
                message_id_header=message_id,
                from_email=_decoded(mime.get("From", "")),
                to=", ".join(message.recipients()),
                subject=_decoded(mime.get("Subject", "")),
                html=_html_part(message),
                text=str(message.body),
                headers={name: _decoded(value) for name, value in mime.items()},
                raw=mime.as_bytes().decode("utf-8", "replace"),
            )
            for message, mime, message_id in zip(email_messages, mimes, ids, strict=True)
        )
        for message, row in zip(email_messages, kept, strict=True):
            message.outbox_id = row.pk  # what the sender records as the provider's id
        return len(kept)
