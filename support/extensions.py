"""Support's extension points, in one place: what other apps add to the desk.

Support imports no app but ``customers``; the composition layer (``crm.wiring``) registers
here what loyalty lends the desk:
- **macro variables** (``register_variable``): ``{{ name }}`` in a macro body, each name
  with one meaning and a value for when the customer has none (support's own are in
  ``support.macros``);
- **value-band checks** (``register_high_value``): more ways for a customer to count as
  high value for the SLA policies and escalation (``support.value``);
- **the review-published hook** (``register_review_published``): told of reviews as they
  are published, in the publishing transaction (``support.reviews``);
- **customer facts** (``register_customer_facts``): lines about the customer shown beside
  a ticket (the loyalty tier and points), each source costing one query or two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from customers.models import Customer
    from support.models import Review, Ticket

# (ticket, context) → value, "" when the customer has none; the context holds the agent and
# what resolvers cache for one render.
type Resolver = Callable[[Ticket, dict], str]


@dataclass(frozen=True)
class Variable:
    description: str
    resolve: Resolver
    # What the macro says when the customer has no value: words that read well in the
    # variable's place ("Hi there"), or "" to leave it out with the space before it
    # ("As a {{ loyalty_tier }} member" reads "As a member").
    empty: str = ""


VARIABLES: dict[str, Variable] = {}


def register_variable(name: str, description: str, resolve: Resolver, *, empty: str = "") -> None:
    """Add ``{{ name }}`` to what macros may use. A name already taken is refused: a variable
    keeps one meaning whichever apps are installed."""
    if name in VARIABLES and VARIABLES[name].resolve is not resolve:
        raise ValueError(f"The macro variable {{{{ {name} }}}} is registered already.")
    VARIABLES[name] = Variable(description, resolve, empty)


HIGH_VALUE_CHECKS: list[Callable[[Customer], bool]] = []


def register_high_value(check: Callable[[Customer], bool]) -> None:
    if check not in HIGH_VALUE_CHECKS:
        HIGH_VALUE_CHECKS.append(check)


REVIEW_PUBLISHED_HANDLERS: list[Callable[[list[Review]], object]] = []


def register_review_published(handler: Callable[[list[Review]], object]) -> None:
    if handler not in REVIEW_PUBLISHED_HANDLERS:
        REVIEW_PUBLISHED_HANDLERS.append(handler)


def reviews_published(reviews: list[Review]) -> None:
    """Tell the registered handlers of reviews just published."""
    if reviews:
        for handler in REVIEW_PUBLISHED_HANDLERS:
            handler(reviews)


# customer id → (label, text) lines for the ticket page's customer panel.
type FactsSource = Callable[[int], list[tuple[str, str]]]
CUSTOMER_FACTS: list[FactsSource] = []


def register_customer_facts(source: FactsSource) -> None:
    if source not in CUSTOMER_FACTS:
        CUSTOMER_FACTS.append(source)


def customer_facts(customer_id: int) -> list[tuple[str, str]]:
    return [fact for source in CUSTOMER_FACTS for fact in source(customer_id)]
