"""The customer's own words from an email: quoted history and signatures cut off, the rest
made into the HTML a ticket message stores.

mail-parser-reply finds where the reply ends (the quote headers mail clients write, "On …
wrote:", "-----Original Message-----", Outlook's "From: … Sent: …", ">" lines, in several
languages) and drops signatures ("-- ", "Sent from my iPhone"). An HTML-only email is
made into text first (inscriptis, as the outbound text parts are), so the same cut applies
and what the agent reads is the text, not the sender's layout. The original is kept whole
on the ``InboundEmail``.
"""

from __future__ import annotations

import html

from inscriptis import get_text
from mailparser_reply import EmailReplyParser

from support.text import MAX_BODY

# The languages whose quote headers and signatures are recognised.
LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs"]
_PARSER = EmailReplyParser(languages=LANGUAGES)
# The escaped text's most, leaving room for the paragraphs' markup within the desk's MAX_BODY.
_TEXT_MAX = MAX_BODY // 2
_CUT_NOTE = "\n\n[… the rest of this email is kept with the original.]"
# The most of an email's text that is trimmed, and of its HTML that is made into text: the
# stored message holds at most ``_TEXT_MAX`` of it anyway, and the reply parser's regexes
# take seconds on megabytes (inside the email's transaction). Twice ``MAX_BODY`` leaves the
# parser room to find a quote after a long reply; HTML is mostly markup, so it gets more.
# The rest is kept in the ``InboundEmail``'s raw message.
INPUT_MAX = 2 * MAX_BODY
HTML_INPUT_MAX = 5 * INPUT_MAX


def body_text(text: str, html_body: str) -> str:
    """The email's text: its plain-text part, else its HTML made into text; at most
    ``INPUT_MAX`` characters of it, with a note when cut."""
    if text.strip():
        cut = len(text) > 2 * INPUT_MAX
        text = text[: 2 * INPUT_MAX].replace("\r\n", "\n")  # CRLF → LF shortens it
    elif html_body.strip():
        cut = len(html_body) > HTML_INPUT_MAX
        text = get_text(html_body[:HTML_INPUT_MAX])
    else:
        return ""
    if cut or len(text) > INPUT_MAX:
        return text[:INPUT_MAX].rstrip() + _CUT_NOTE
    return text


def reply_text(text: str) -> str:
    """The reply without the quoted history and signature; the whole text if cutting leaves
    nothing (a reply written below the quote, or a message that is only a quote)."""
    if not text.strip():
        return ""
    try:
        replies = _PARSER.read(text).replies
    except Exception:  # noqa: BLE001 - a parser's fault must not lose a customer's email
        replies = []
    trimmed = replies[0].body.strip() if replies else ""
    return trimmed or text.strip()


def reply_html(text: str) -> str:
    """Text as the desk's message HTML input: escaped (the customer's "<" is text), cut to
    fit ``MAX_BODY`` with a note. ``support.text.message_html`` makes it paragraphs."""
    escaped = html.escape(text, quote=False)
    limit = len(text)
    while len(escaped) > _TEXT_MAX:  # escaping lengthens: cut the text until it fits
        limit = limit * _TEXT_MAX // len(escaped) - 1
        escaped = html.escape(text[:limit].rstrip() + _CUT_NOTE, quote=False)
    return escaped
