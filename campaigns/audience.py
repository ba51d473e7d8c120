"""Who may get a marketing email from a shop now, and why the others may not.

Campaigns and flows both narrow their customers through ``reachable``; the audience count
shows ``exclusions``. A customer is left out, in this order, when they have no email
address, have not consented to the shop's marketing email (``CustomerIdentity``, per shop),
are suppressed (for every shop or for this one: a bounce, a complaint, an unsubscribe), or
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
    NO_EMAIL = "no_email"
    NO_CONSENT = "no_consent"
    SUPPRESSED = "suppressed"
    RECENTLY_MAILED = "recently_mailed"

    LABELS = {
        NO_EMAIL: "no email address",
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
    consented = CustomerIdentity.objects.filter(customer=OuterRef("pk"), shop_id=shop_id, marketing_consent=True)
    suppressed = Suppression.objects.filter(address=OuterRef("email_normalized")).filter(
        Q(shop__isnull=True) | Q(shop_id=shop_id)
    )
    flagged = customers.annotate(_consented=Exists(consented), _suppressed=Exists(suppressed))
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


def exclusions(customers: QuerySet[Customer], *, shop_id: int, now: datetime, cap_hours: int) -> Reach:
    """How many of ``customers`` may be sent to, and how many each reason leaves out (one query)."""
    flagged = _flags(customers, shop_id=shop_id, now=now, cap_hours=cap_hours)
    no_email = ~_has_email()
    no_consent = _has_email() & Q(_consented=False)
    suppressed = _has_email() & Q(_consented=True, _suppressed=True)
    ok = _has_email() & Q(_consented=True, _suppressed=False)
    counts = {
        "total": Count("pk"),
        Exclusion.NO_EMAIL: Count("pk", filter=no_email),
        Exclusion.NO_CONSENT: Count("pk", filter=no_consent),
        Exclusion.SUPPRESSED: Count("pk", filter=suppressed),
    }
    if cap_hours:
        counts[Exclusion.RECENTLY_MAILED] = Count("pk", filter=ok & Q(_recent=True))
        counts["reachable"] = Count("pk", filter=ok & Q(_recent=False))
    else:
        counts["reachable"] = Count("pk", filter=ok)
    row = flagged.aggregate(**counts)
    total, count = row.pop("total"), row.pop("reachable")
    return Reach(total=total, reachable=count, excluded=row)
