"""Support's extension points, in one place: what other apps add to the desk.

Support imports no app but ``customers``; the composition layer (``crm.wiring``) registers
here what loyalty lends the desk:
- **macro variables** (``register_variable``): ``{{ name }}`` in a macro body, each name
  with one meaning (support's own are in ``support.macros``);
- **value-band checks** (``register_high_value``): more ways for a customer to count as
  high value for the SLA policies and escalation (``support.value``);
- **the review-published hook** (``register_review_published``): told of reviews as they
  are published, in the publishing transaction (``support.reviews``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from customers.models import Customer
    from support.models import Review, Ticket

# (ticket, context) → value; the context holds the agent and what resolvers cache for one render.
type Resolver = Callable[[Ticket, dict], str]
VARIABLES: dict[str, tuple[str, Resolver]] = {}


def register_variable(name: str, description: str, resolve: Resolver) -> None:
    """Add ``{{ name }}`` to what macros may use. A name already taken is refused: a variable
    keeps one meaning whichever apps are installed."""
    if name in VARIABLES and VARIABLES[name][1] is not resolve:
        raise ValueError(f"The macro variable {{{{ {name} }}}} is registered already.")
    VARIABLES[name] = (description, resolve)


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
