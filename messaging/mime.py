"""The MIME form of a queued message, built for sending in bulk.

Django builds an email with Python's modern ``email`` API (``email.policy.SMTP``), which
parses every header into an object and folds it back: about 1.4 ms of a worker's 3 ms of
CPU per message, more than rendering the template. ``BulkEmail.message`` builds the same
message with the ``email`` package's older classes (``email.mime``, ``compat32``, what
Django itself used until 6.0), which take the headers as they are given: 0.5 ms. The CRM
makes every header it sends, so it checks what the parser would have checked itself:
no line breaks in a value (header injection), ASCII addresses (the modern path's IDNA
encoding is left to it: a message with a non-ASCII address, or with attachments, is built
the modern way). Non-ASCII text (a subject, a sender's name) is RFC 2047 encoded.

Provider backends (anymail) never call ``message()``: they send the parts as JSON. The SMTP
backend and the outbox do.
"""

from __future__ import annotations

import email.policy
from datetime import UTC, datetime
from email import charset as charsets
from email.header import Header
from email.message import Message as MimeMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, getaddresses

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

_UTF8 = charsets.Charset("utf-8")
_UTF8.body_encoding = charsets.QP  # readable in the outbox's raw view; 8-bit safe on any relay


class _Policy(email.policy.Compat32):
    """``compat32`` with lines ending in CRLF, as SMTP wants (smtplib sends bytes as they
    are), and a header written as it is when it is ASCII and fits on a line: folding goes
    through ``email.header.Header`` for every header, a third of the MIME's cost. A longer
    one is folded, at RFC 5322's hard limit of 998 characters (folding an address list
    right after its colon at 78, as ``compat32`` does, reads back with a leading space)."""

    def _fold(self, name, value, sanitize):
        if isinstance(value, str) and value.isascii() and len(name) + len(value) < 996:
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


_POLICY = _Policy(linesep="\r\n", max_line_length=998)
_ADDRESS_HEADERS = {"from", "to", "cc", "reply-to"}


def _ascii_addresses(values) -> bool:
    """Whether every address (the part in angle brackets) is ASCII; parsed only when some
    text is not (a non-ASCII display name)."""
    texts = [str(v) for v in values]
    return all(t.isascii() for t in texts) or all(address.isascii() for _, address in getaddresses(texts))


def _text_header(value: str) -> str:
    """A header of free text (Subject): as it is if ASCII, else an RFC 2047 encoded word."""
    if value.isascii():
        return value
    return Header(value, _UTF8, maxlinelen=998).encode()


def _address_header(value: str) -> str:
    """Addresses with their display names encoded where they are not ASCII (as they are when
    they are ASCII already: no need to take them apart)."""
    if value.isascii():
        return value
    return ", ".join(formataddr(pair, charset="utf-8") for pair in getaddresses([value]))


class BulkEmail(EmailMultiAlternatives):
    """``EmailMultiAlternatives`` whose MIME form is built cheaply (see the module docstring)."""

    def _cheap(self) -> bool:
        texts = all(mimetype.startswith("text/") for _, mimetype in self.alternatives)
        return (
            not self.attachments and texts and _ascii_addresses([self.from_email, *self.to, *self.cc, *self.reply_to])
        )

    def message(self, *, policy=email.policy.default):
        if not self._cheap():
            return super().message(policy=policy)
        values = [str(self.subject), str(self.from_email), *map(str, [*self.to, *self.cc, *self.reply_to])]
        values += map(str, self.extra_headers.values())
        if any("\n" in value or "\r" in value for value in values):
            raise ValueError("Header values may not contain linefeed or carriage return characters")
        names = {name.lower() for name in self.extra_headers}
        if "message-id" not in names:
            # The modern path would make one; the CRM always gives its own (from the key).
            raise ValueError("A bulk email needs its Message-ID")
        mime: MimeMessage = MIMEText(str(self.body), "plain", _UTF8, policy=_POLICY)
        if self.alternatives:
            parts = [
                MIMEText(str(content), mimetype.partition("/")[2], _UTF8, policy=_POLICY)
                for content, mimetype in self.alternatives
            ]
            mime = MIMEMultipart("alternative", _subparts=[mime, *parts], policy=_POLICY)
        mime["Subject"] = _text_header(str(self.subject))
        mime["From"] = _address_header(str(self.extra_headers.get("From", self.from_email)))
        for name, addresses in (("To", self.to), ("Cc", self.cc), ("Reply-To", self.reply_to)):
            if addresses:
                mime[name] = ", ".join(_address_header(str(a)) for a in addresses)
        if "date" not in names:
            now = datetime.now(UTC)
            mime["Date"] = format_datetime(now.astimezone() if settings.EMAIL_USE_LOCALTIME else now)
        for name, value in self.extra_headers.items():
            if name.lower() not in _ADDRESS_HEADERS:
                mime[name] = _text_header(str(value))
        return mime
