"""What customer and staff text becomes when it is stored: sanitised HTML or plain text."""

import html
import re
from html.parser import HTMLParser

import nh3
from django.utils.html import linebreaks

from core.errors import DomainError

MAX_BODY = 50_000


def sanitise(html: str) -> str:
    """Message HTML safe to show in the admin as is: no script, no event handlers, no
    ``javascript:`` links (nh3's allow-list of tags and attributes)."""
    return nh3.clean(html, link_rel="noopener noreferrer nofollow")


# A "<" (or a run of them) that would open a tag, an end tag, a comment or a processing
# instruction in HTML; any other "<" is text to every browser ("I <3 it", "3 < 4").
_TAG_OPEN = re.compile(r"<+(?=[A-Za-z/!?])")


def plain_text(text: str) -> str:
    """Customer text with its markup removed: tags and comments go, and what scripts and
    styles held; entities are decoded (``&amp;`` is ``&``), and no ``<`` is left that could
    open a tag, so the text is harmless whether a page escapes it or not.

    Review titles and bodies, NPS and CSAT comments, ticket subjects and staff's review
    responses are stored this way (ticket messages are sanitised HTML: ``sanitise``)."""
    return _TAG_OPEN.sub("", html.unescape(nh3.clean(text, tags=set()))).strip()


# Elements that make an HTML body's own structure; a body with none of them is text (perhaps
# with inline markup), whose line breaks are the author's.
_BLOCK = frozenset(
    {"address", "blockquote", "div", "dl", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6"}
    | {"hr", "li", "ol", "p", "pre", "table", "tr", "ul"}
)
_HAS_STRUCTURE = re.compile(r"<(?:br|" + "|".join(sorted(_BLOCK)) + r")\b", re.IGNORECASE)


def message_html(text: str) -> str:
    """A message as stored: sanitised HTML (``sanitise``). Text typed without block markup
    (the reply box, a customer's form) keeps its line breaks as paragraphs and ``<br>``, so
    the customer reads it as it was written; HTML with its own structure is kept as it is.
    Longer than ``MAX_BODY`` characters: a ``DomainError`` on ``body`` (the forms and the API
    refuse it on their own field first)."""
    if len(text) > MAX_BODY:
        raise DomainError(f"Ensure this field has no more than {MAX_BODY:,} characters.", field="body")
    clean = sanitise(text.replace("\r\n", "\n")).strip()
    if "\n" not in clean or _HAS_STRUCTURE.search(clean):
        return clean
    return linebreaks(clean)


class _TextOf(HTMLParser):
    """Collects the text of sanitised HTML: block elements end lines, ``<br>`` breaks one, a
    link's address follows its text."""

    def __init__(self, keep_newlines: bool):
        super().__init__(convert_charrefs=True)
        self.keep_newlines = keep_newlines
        self.parts: list[str] = []
        self.links: list[tuple[str, int]] = []  # (href, where its text starts)

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n• ")
        elif tag in _BLOCK:
            self.parts.append("\n\n")
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.parts)))

    def handle_endtag(self, tag):
        if tag in _BLOCK and tag != "li":
            self.parts.append("\n\n")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.parts[start:]).strip()
            if href and href != label and not href.startswith("mailto:"):
                self.parts.append(f" ({href})")

    def handle_data(self, data):
        self.parts.append(data if self.keep_newlines else re.sub(r"\s+", " ", data))


def message_text(body: str) -> str:
    """A stored message (sanitised HTML) as plain text with its paragraphs and line breaks:
    what the admin shows, escaped and with ``linebreaks``, and what a macro puts in the reply
    box. Line breaks typed in text without block markup count; in structured HTML only the
    markup's do, as in a browser."""
    parser = _TextOf(keep_newlines=not _HAS_STRUCTURE.search(body))
    parser.feed(body.replace("\r\n", "\n"))
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
