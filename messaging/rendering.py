"""Messages as Django templates, rendered with a safe context of plain values.

A message template is a folder under ``messaging/templates/messaging/email/<name>/`` (or the
same path in another app's ``templates/``): ``subject.txt`` (one line, not escaped) and
``body.html``, which extends ``messaging/email/base.html`` (the shop's logo, colour and
footer) and fills ``{% block content %}``. ``TEMPLATES`` lists the names a message may use.

**The context** is plain values, never model instances, so a template reaches no method or
relation: it can print what the service put there and nothing else. Every value is escaped
in the HTML. A name the context does not hold, or a key a value does not have, renders empty.

- ``customer``: ``first_name``, ``last_name``, ``name`` (both, or the email), ``email``;
  when the message names a customer.
- ``shop``: ``name``; when the message names a shop.
- ``order``: ``number``, ``placed_on`` ("2 January 2026"), ``total`` ("59.90"),
  ``currency``; when the caller gives one (``services.order_values``).
- ``ticket``: ``number``, ``subject``; when the caller gives one.
- ``tier``: the customer's loyalty tier, e.g. "Gold" (empty before their first), and
  ``points``: their points available to spend, an integer; lent by ``crm.wiring``.
- ``brand``: ``from_name``, ``logo_url``, ``colour``, ``footer_address``: the sender's
  branding, which the base layout prints; always, from the shop's sender identity.
- ``unsubscribe_url``: the message's signed unsubscribe page (``messaging.unsubscribe``,
  the same link as its ``List-Unsubscribe`` header), which the base layout prints below the
  footer; in marketing messages only, empty in the rest.

The HTML's ``<style>`` rules are inlined into ``style`` attributes by css-inline (mail
clients drop style sheets), and the plain-text part is made from the final HTML by
inscriptis (links kept as "[text](address)").
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from email.headerregistry import Address
from functools import cache

import css_inline
from django.conf import settings
from django.template import Context, Engine
from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

from messaging.authored import AUTHORED, authored_values


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    description: str
    kind: str  # "transactional" or "marketing": what it is sent as


TEMPLATES: dict[str, TemplateInfo] = {}


def register_template(name: str, description: str, *, kind: str = "transactional") -> None:
    """Make ``messaging/email/<name>/`` a template messages may use (an app calls it from its
    ``ready``). A name keeps one meaning: registering it again with another meaning fails."""
    info = TemplateInfo(name, description, kind)
    if TEMPLATES.get(name, info) != info:
        raise ValueError(f"The email template {name!r} is registered already.")
    TEMPLATES[name] = info


register_template("test", "A test of the sender's branding, sent from the admin to oneself.")
register_template("order_confirmation", "A receipt for an order: its number, date and total.")
register_template(
    AUTHORED,
    "Written by the staff (a campaign's or a flow's): subject and body come with the message.",
    kind="marketing",
)


@dataclass(frozen=True)
class Brand:
    """Who a message comes from and how it looks: a shop's sender identity, or the CRM's."""

    from_name: str
    from_email: str
    reply_to: str
    logo_url: str
    colour: str
    footer_address: str

    @property
    def from_header(self) -> str:
        """ "Name <address>", the name as written (quoted where it must be, not encoded: the
        MIME builder encodes it for the wire, and the log shows it readable)."""
        return str(Address(display_name=self.from_name, addr_spec=self.from_email))

    def values(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("from_email", "reply_to")}


def default_brand() -> Brand:
    return Brand(
        from_name=settings.EMAIL_FROM_NAME,
        from_email=settings.DEFAULT_FROM_EMAIL,
        reply_to=settings.EMAIL_REPLY_TO,
        logo_url="",
        colour="#1f6feb",
        footer_address=settings.EMAIL_FOOTER_ADDRESS,
    )


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


@cache
def _engines() -> tuple[Engine, Engine]:
    """(HTML, text): templates from every app's ``templates/``, no context processors, no
    request; a missing name renders "". The text engine does not escape (a subject line)."""
    options = {"app_dirs": True, "string_if_invalid": "", "debug": False}
    return Engine(autoescape=True, **options), Engine(autoescape=False, **options)


@cache
def _inliner() -> css_inline.CSSInliner:
    # Never fetch a style sheet from elsewhere; keep @media rules in a <style> for clients
    # that read them.
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)


@cache
def template_source(template: str) -> str:
    """The source of a template's subject and body (not the base layout they extend)."""
    html_engine, _text = _engines()
    folder = f"messaging/email/{template}"
    return "\n".join(html_engine.get_template(f"{folder}/{part}").source for part in ("subject.txt", "body.html"))


# The strict profile: no indentation for nested blocks (the layout's divs), lists still indented.
TEXT_CONFIG = ParserConfig(css=CSS_PROFILES["strict"].copy(), display_links=True)
_SPACES = re.compile(r"\s+")


def render(template: str, context: dict, brand: Brand, *, unsubscribe_url: str = "") -> Rendered:
    """The subject, the HTML with its CSS inlined, and the plain text of one message.

    ``unsubscribe_url``: a marketing message's unsubscribe link, printed by the base layout
    outside the footer block, so no template can leave it out."""
    if template not in TEMPLATES:
        raise ValueError(f"No email template is called {template!r}.")
    html_engine, text_engine = _engines()
    values = {**context, "brand": brand.values(), "unsubscribe_url": unsubscribe_url}
    if template == AUTHORED:
        values.update(authored_values(values, html_engine, text_engine))
    folder = f"messaging/email/{template}"
    subject = text_engine.get_template(f"{folder}/subject.txt").render(Context(values, autoescape=False))
    body = html_engine.get_template(f"{folder}/body.html").render(Context(values, autoescape=True))
    html = _inliner().inline(body)
    return Rendered(
        subject=_SPACES.sub(" ", subject).strip(), html=html, text=get_text(html, TEXT_CONFIG).strip() + "\n"
    )
