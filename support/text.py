"""What customer and staff text becomes when it is stored: sanitised HTML or plain text."""

import html
import re

import nh3

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
