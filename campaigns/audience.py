"""Who may get a marketing email from a shop now, and why the others may not.

Campaigns and flows both narrow their customers through ``reachable``; the audience count
shows ``exclusions``. A customer is left out, in this order, when they are in an exclusion
segment (a campaign's), have no email address, are not a customer of the shop (no
``CustomerIdentity`` for it), have not consented to the shop's marketing email, are
suppressed (for every shop or for this one: a bounce, a complaint, an unsubscribe), or
got a marketing email in the last ``cap_hours`` (the frequency cap, ``SendingPolicy``).
Each is one ``EXISTS`` in the same query, so a million customers take one statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from customers.models import Customer, CustomerIdentity
from messaging.models import Message, MessageKind, Suppression


class Exclusion:
    EXCLUDED_SEGMENT = "excluded_segment"
    NO_EMAIL = "no_email"
    NOT_A_CUSTOMER = "not_a_customer"
    NO_CONSENT = "no_consent"
    SUPPRESSED = "suppressed"
    RECENTLY_MAILED = "recently_mailed"

    LABELS = {
        EXCLUDED_SEGMENT: "in an exclusion segment",
        NO_EMAIL: "no email address",
        NOT_A_CUSTOMER: "not a customer of this shop",
        NO_CONSENT: "no marketing consent for this shop",
        SUPPRESSED: "suppressed (bounced, complained or unsubscribed)",
        RECENTLY_MAILED: "had a marketing email within the frequency cap",
    }


@dataclass(frozen=True)
class Reach:
    total: int
    reachable: int
    excluded: dict[str, int]  # Exclusion → how many it alone leaves out (each after the ones before it)


def _flags(customers: QuerySet[Customer], *, shop_id: int, now: datetime, cap_hours: int) -> QuerySet[Customer]:
    linked = CustomerIdentity.objects.filter(customer=OuterRef("pk"), shop_id=shop_id)
    suppressed = Suppression.objects.filter(address=OuterRef("email_normalized")).filter(
        Q(shop__isnull=True) | Q(shop_id=shop_id)
    )
    flagged = customers.annotate(
        _consented=Exists(linked.filter(marketing_consent=True)), _suppressed=Exists(suppressed)
    )
    if cap_hours:
        recent = Message.objects.filter(
            customer=OuterRef("pk"), kind=MessageKind.MARKETING, created_at__gt=now - timedelta(hours=cap_hours)
        )
        return flagged.annotate(_recent=Exists(recent))
    return flagged


def _has_email() -> Q:
    return Q(email_normalized__isnull=False)


def reachable(customers: QuerySet[Customer], *, shop_id: int, now: datetime, cap_hours: int) -> QuerySet[Customer]:
    """``customers`` narrowed to those the shop may send a marketing email to now."""
    flagged = _flags(customers, shop_id=shop_id, now=now, cap_hours=cap_hours)
    kept = flagged.filter(_has_email(), _consented=True, _suppressed=False)
    return kept.filter(_recent=False) if cap_hours else kept


def exclusions(
    customers: QuerySet[Customer], *, shop_id: int, now: datetime, cap_hours: int, excluded_by: Exists | None = None
) -> Reach:
    """How many of ``customers`` may be sent to, and how many each reason leaves out (one
    query). ``excluded_by``: the exclusion segments' membership, counted first."""
    flagged = _flags(customers, shop_id=shop_id, now=now, cap_hours=cap_hours).annotate(
        _linked=Exists(CustomerIdentity.objects.filter(customer=OuterRef("pk"), shop_id=shop_id))
    )
    counts = {"total": Count("pk")}
    kept = Q()
    if excluded_by is not None:
        flagged = flagged.annotate(_excluded=excluded_by)
        counts[Exclusion.EXCLUDED_SEGMENT] = Count("pk", filter=Q(_excluded=True))
        kept = Q(_excluded=False)
    has_email = kept & _has_email()
    ok = has_email & Q(_consented=True, _suppressed=False)
    counts |= {
        Exclusion.NO_EMAIL: Count("pk", filter=kept & ~_has_email()),
        Exclusion.NOT_A_CUSTOMER: Count("pk", filter=has_email & Q(_linked=False)),
        Exclusion.NO_CONSENT: Count("pk", filter=has_email & Q(_linked=True, _consented=False)),
        Exclusion.SUPPRESSED: Count("pk", filter=has_email & Q(_consented=True, _suppressed=True)),
    }
    if cap_hours:
        counts[Exclusion.RECENTLY_MAILED] = Count("pk", filter=ok & Q(_recent=True))
        counts["reachable"] = Count("pk", filter=ok & Q(_recent=False))
    else:
        counts["reachable"] = Count("pk", filter=ok)
    row = flagged.aggregate(**counts)
    total, count = row.pop("total"), row.pop("reachable")
    return Reach(total=total, reachable=count, excluded=row)
