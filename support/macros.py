"""Macro bodies: ``{{ variable }}`` placeholders filled from the ticket's customer.

A small registry instead of Django's template language: an agent writing a macro can reach
only these values (no attribute walking into the database), an unknown name is refused
when the macro is saved, and every value is HTML-escaped. Each variable has words for when
the customer has no value (``empty``), so a macro reads well for a newcomer too. Another app adds a variable
through ``support.extensions.register_variable`` (``crm.wiring`` adds the loyalty tier and
points), so support imports none of them; each name has one meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from customers.models import Order
from support.extensions import VARIABLES, register_variable
from support.text import message_text
from support.value import customer_is_high_value

if TYPE_CHECKING:
    from support.models import Macro, Ticket

PLACEHOLDER = re.compile(r"([ \t]?)\{\{\s*([a-z_]+)\s*\}\}")
# Anything an author may have meant as a variable (``{{ customer.email }}``, ``{{ Name }}``):
# checked against the known names, so a typo is refused rather than sent as it stands.
ANY_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def _last_order(ticket: Ticket, cache: dict) -> Order | None:
    if "last_order" not in cache:
        cache["last_order"] = ticket.order or (
            Order.objects.filter(customer_id=ticket.customer_id).order_by("-placed_at", "-id").first()
        )
    return cache["last_order"]


def _metrics(ticket: Ticket):
    return getattr(ticket.customer, "metrics", None)


register_variable(
    "first_name", "the customer's first name", lambda t, c: t.customer.first_name, empty="there"
)  # "Hi there"
register_variable("last_name", "the customer's last name", lambda t, c: t.customer.last_name)
register_variable(
    "full_name",
    "first and last name",
    lambda t, c: f"{t.customer.first_name} {t.customer.last_name}".strip(),
    empty="there",
)
register_variable("email", "the customer's email", lambda t, c: t.customer.email, empty="your email address")
register_variable(
    "last_order_number",
    "the shop's number of the ticket's order, else of the customer's last order",
    lambda t, c: (o := _last_order(t, c)) and o.external_id or "",
)
register_variable(
    "last_order_date",
    "its date (YYYY-MM-DD)",
    lambda t, c: (o := _last_order(t, c)) and f"{o.placed_at:%Y-%m-%d}" or "",
)
register_variable(
    "last_order_total",
    "its total and currency",
    lambda t, c: (o := _last_order(t, c)) and f"{o.total} {o.currency}" or "",
)
register_variable("stage", "the lifecycle stage", lambda t, c: (m := _metrics(t)) and m.get_stage_display() or "")


def _value_tier(ticket: Ticket, cache: dict) -> str:
    return "high value" if customer_is_high_value(ticket.customer) else "standard"


# The value band the SLA policies use (the loyalty tier is ``{{ loyalty_tier }}``, crm.wiring).
register_variable(
    "value_tier", "high value (top 10 % predicted CLV, or a priority loyalty tier) or standard", _value_tier
)
register_variable("ticket_id", "the ticket number", lambda t, c: str(t.pk))
register_variable("subject", "the ticket's subject", lambda t, c: t.subject)
register_variable(
    "agent_name",
    "the agent applying the macro",
    lambda t, c: c["agent"] and (c["agent"].get_full_name() or c["agent"].get_username()) or "",
    empty="the support team",
)


def unknown_variables(body: str) -> list[str]:
    return sorted({name for name in ANY_PLACEHOLDER.findall(body) if name not in VARIABLES})


@dataclass(frozen=True)
class Rendered:
    html: str
    empty: list[str]  # the variables this customer has no value for, in order of appearance


# Where a left-out value's space goes too: before a space, punctuation, a tag or the end.
_CLOSES = frozenset(" \t\n,.;:!?)<")


def render_macro(body: str, ticket: Ticket, *, agent=None) -> Rendered:
    """The body with each placeholder replaced by its escaped value (``agent`` is the person
    applying the macro, for ``agent_name``). A variable the customer has no value for takes
    its ``empty`` words, or is left out with the space before it, so the sentence still
    reads: "As a {{ loyalty_tier }} member" is "As a member" before a first tier."""
    context: dict = {"agent": agent}
    empty: list[str] = []

    def value(match: re.Match) -> str:
        space, name = match.group(1), match.group(2)
        variable = VARIABLES.get(name)
        if variable is None:
            return match.group(0)
        text = str(variable.resolve(ticket, context) or "")
        if not text:
            if name not in empty:
                empty.append(name)
            text = variable.empty
        if text:
            return space + escape(text)
        following = body[match.end() : match.end() + 1]
        return "" if not following or following in _CLOSES else space

    return Rendered(PLACEHOLDER.sub(value, body), empty)


def render(body: str, ticket: Ticket, *, agent=None) -> str:
    return render_macro(body, ticket, agent=agent).html


@dataclass(frozen=True)
class MacroPreview:
    """What choosing a macro puts in the ticket page's reply box, to edit before sending."""

    text: str  # plain text with its line breaks, as the box holds it
    tags: list[str]
    empty: list[str]  # variables this customer has no value for


def macro_preview(*, ticket: Ticket, macro: Macro, agent) -> MacroPreview:
    rendered = render_macro(macro.body, ticket, agent=agent)
    tags = sorted(tag.name for tag in macro.add_tags.all())
    return MacroPreview(text=message_text(rendered.html), tags=tags, empty=rendered.empty)
