"""What one app lends another, connected here in the composition layer so the apps keep
importing only ``customers``: the loyalty tier and points in support's macros, a tier with
priority support counting as high value for support's SLA policies, and a published review
earning loyalty's review bonus."""

from customers.models import Customer
from loyalty.bonuses import reviews_published
from loyalty.models import Account
from support import macros
from support.services import register_high_value, register_review_published


def _account(ticket, cache: dict) -> Account | None:
    if "loyalty_account" not in cache:
        cache["loyalty_account"] = Account.objects.select_related("tier").filter(pk=ticket.customer_id).first()
    return cache["loyalty_account"]


def _tier_name(ticket, cache: dict) -> str:
    account = _account(ticket, cache)
    return account.tier.name if account and account.tier else "no tier yet"


def _points(ticket, cache: dict) -> str:
    account = _account(ticket, cache)
    return f"{account.balance if account else 0:,}"


def has_priority_support(customer: Customer) -> bool:
    return Account.objects.filter(pk=customer.pk, tier__priority_support=True).exists()


def connect() -> None:
    macros.register("tier", "the customer's loyalty tier ('no tier yet' before they reach one)", _tier_name)
    macros.register("points", "the customer's points balance, available to spend", _points)
    register_high_value(has_priority_support)
    register_review_published(reviews_published)
