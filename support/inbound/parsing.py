"""A raw email read into what the desk needs of it: who sent it, to which addresses, the
threading ids, the text and the attachments. No database.

Python's ``email`` package with the modern policy does the MIME work (encodings, charsets,
encoded words); a message it cannot make sense of still gives what it can, and the caller
records the rest as rejected rather than failing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses

# Headers that name the desk's address the email was delivered to, besides To and Cc:
# Delivered-To (Postfix, Gmail, Dovecot) and X-Original-To (Postfix) carry the plus-tagged
# address even when the client put the bare one in To.
RECIPIENT_HEADERS = ("to", "cc", "delivered-to", "x-original-to", "envelope-to")
# The most recipients read from those headers (distinct, in their order; the envelope's
# recipient comes on top): the desk's address is among the first of any real email, and an
# email to thousands must not become a query with a term for each.
MAX_RECIPIENTS = 50
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
MESSAGE_KEY_MAX = 255


@dataclass(frozen=True)
class Part:
    """An attachment: its name, type and bytes."""

    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class ParsedEmail:
    message_key: str  # the Message-ID, or a hash of the raw message
    message_id: str
    from_email: str  # lower-cased; "" when there is none
    from_name: str
    return_path: str | None  # None: no Return-Path; "": the null sender <>
    recipients: tuple[str, ...]  # lower-cased, To, Cc, Delivered-To, … and the envelope's, in that order
    subject: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    headers: Message  # for the automatic-mail rules
    content_type: str
    text: str
    html: str
    attachments: tuple[Part, ...] = field(default_factory=tuple)


def _clean(text: str) -> str:
    """Text a database column can hold: no NUL (PostgreSQL refuses it in text)."""
    return text.replace("\x00", "")


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):  # a header the parser cannot read
        return ""
    return _clean(str(value)).strip() if value is not None else ""


def _addresses(message: Message, names: tuple[str, ...]) -> list[tuple[str, str]]:
    values: list[str] = []
    for name in names:
        try:
            values.extend(_clean(str(v)) for v in message.get_all(name, []))
        except (ValueError, IndexError, TypeError):
            continue
    return [(n, a.strip().lower()) for n, a in getaddresses(values) if "@" in a]


def message_key(message_id: str, raw: bytes) -> str:
    """What makes the email once only: its Message-ID, or a hash of it whole."""
    if message_id and len(message_id) <= MESSAGE_KEY_MAX:
        return message_id
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _content(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown charset, a broken encoding
        payload = part.get_payload(decode=True) or b""
        return _clean(payload.decode("utf-8", errors="replace"))
    return _clean(content if isinstance(content, str) else content.decode("utf-8", errors="replace"))


def _parts(message: EmailMessage) -> tuple[str, str, list[Part]]:
    """The text and HTML bodies (the first of each outside attachments) and the attachments.
    An attached email (message/rfc822) is one attachment, not walked into."""
    text = html = ""
    attachments: list[Part] = []
    stack: list[EmailMessage] = [message]
    while stack:
        part = stack.pop(0)
        ctype = _clean(part.get_content_type())
        if part.is_multipart() and ctype != "message/rfc822":
            stack[0:0] = list(part.iter_parts())  # type: ignore[arg-type]
            continue
        disposition = part.get_content_disposition()
        try:
            filename = _clean(part.get_filename() or "")
        except (ValueError, IndexError, TypeError):
            filename = ""
        if disposition != "attachment" and not filename and ctype == "text/plain" and not text:
            text = _content(part)
        elif disposition != "attachment" and not filename and ctype == "text/html" and not html:
            html = _content(part)
        elif ctype == "message/rfc822":
            inner = part.get_payload()
            body = inner[0].as_bytes() if isinstance(inner, list) and inner else b""
            attachments.append(Part(filename or "message.eml", ctype, body))
        else:
            payload = part.get_payload(decode=True) or b""
            attachments.append(Part(filename or f"part-{len(attachments) + 1}", ctype, payload))
    return text, html, attachments


def parse(raw: bytes, *, envelope_recipient: str = "", envelope_sender: str | None = None) -> ParsedEmail:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    message_id = (_MESSAGE_ID.findall(_header(message, "message-id")) or [""])[0]
    senders = _addresses(message, ("from",)) or _addresses(message, ("sender",))
    from_name, from_email = senders[0] if senders else ("", "")
    return_path: str | None = None
    if envelope_sender is not None:  # the transport's envelope beats the header
        return_path = _clean(envelope_sender).strip("<> ").lower()
    elif "return-path" in message:
        return_path = _header(message, "return-path").strip("<> ").lower()
    recipients = list(dict.fromkeys(a for _, a in _addresses(message, RECIPIENT_HEADERS)))[:MAX_RECIPIENTS]
    if envelope_recipient:
        recipients.append(_clean(envelope_recipient).strip().lower())
    text, html, attachments = _parts(message)
    return ParsedEmail(
        message_key=message_key(message_id, raw),
        message_id=message_id,
        from_email=from_email,
        from_name=from_name,
        return_path=return_path,
        recipients=tuple(dict.fromkeys(recipients)),
        subject=_header(message, "subject")[:500],
        in_reply_to=tuple(_MESSAGE_ID.findall(_header(message, "in-reply-to"))),
        references=tuple(_MESSAGE_ID.findall(_header(message, "references"))),
        headers=message,
        content_type=message.get_content_type(),
        text=text,
        html=html,
        attachments=tuple(attachments),
    )


def bare_address(address: str) -> str:
    """The address without its plus tag: ``support+t12-…@shop.example`` → ``support@shop.example``."""
    local, _, domain = address.lower().rpartition("@")
    return f"{local.partition('+')[0]}@{domain}"
