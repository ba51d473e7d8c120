"""Macro bodies: ``{{ variable }}`` placeholders filled from the ticket's customer.

A small registry instead of Django's template language: an agent writing a macro can reach
only these values (no attribute walking into the database), an unknown name is refused
when the macro is saved, and every value is HTML-escaped. Another app adds a variable
through ``support.extensions.register_variable`` (``crm.wiring`` adds the loyalty tier and
points), so support imports none of them; each name has one meaning.
"""

from __future__ import annotations

import re
from html import escape
from typing import TYPE_CHECKING

from customers.models import Order
from support.extensions import VARIABLES, register_variable
from support.value import customer_is_high_value

if TYPE_CHECKING:
    from support.models import Ticket

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
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


register_variable("first_name", "the customer's first name", lambda t, c: t.customer.first_name or "there")
register_variable("last_name", "the customer's last name", lambda t, c: t.customer.last_name)
register_variable(
    "full_name", "first and last name", lambda t, c: f"{t.customer.first_name} {t.customer.last_name}".strip()
)
register_variable("email", "the customer's email", lambda t, c: t.customer.email)
register_variable(
    "last_order_number",
    "the ticket's order, else the customer's last order",
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
    lambda t, c: c["agent"] and (c["agent"].get_full_name() or c["agent"].get_username()),
)


def unknown_variables(body: str) -> list[str]:
    return sorted({name for name in ANY_PLACEHOLDER.findall(body) if name not in VARIABLES})


def render(body: str, ticket: Ticket, *, agent=None) -> str:
    """The body with each placeholder replaced by its escaped value (``agent`` is the
    person applying the macro, for ``agent_name``)."""
    context: dict = {"agent": agent}

    def value(match: re.Match) -> str:
        variable = VARIABLES.get(match.group(1))
        return escape(str(variable[1](ticket, context) or "")) if variable else match.group(0)

    return PLACEHOLDER.sub(value, body)
