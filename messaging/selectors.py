"""Reads of the email channel: senders' branding, a customer's messages, previews, and each
shop's complaint rate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from customers.models import Customer, Order
from messaging.models import Message, MessageKind, MessageStatus, SenderIdentity
from messaging.rendering import TEMPLATES, Brand, Rendered, default_brand, render


def brands_for(shop_ids: set[int]) -> dict[int | None, Brand]:
    """Each shop's branding (its sender identity, else the CRM's), and the CRM's under None.
    One query."""
    fallback = default_brand()
    brands: dict[int | None, Brand] = {None: fallback}
    for identity in SenderIdentity.objects.filter(shop_id__in=sorted(shop_ids)):
        brands[identity.shop_id] = Brand(
            from_name=identity.from_name,
            from_email=identity.from_email,
            reply_to=identity.reply_to,
            logo_url=identity.logo_url,
            colour=identity.brand_colour,
            footer_address=identity.footer_address or fallback.footer_address,
        )
    return brands


def brand_for(shop_id: int | None) -> Brand:
    brands = brands_for({shop_id} if shop_id is not None else set())
    return brands.get(shop_id, brands[None])


def customer_messages(customer_id: int) -> QuerySet[Message]:
    """A customer's messages, newest first (by the customer and time index)."""
    return Message.objects.filter(customer_id=customer_id).order_by("-created_at", "-id")


def customer_find(term: str) -> Customer | None:
    """The customer a person means by an email address or a CRM id."""
    term = term.strip()
    if term.isdigit():
        return Customer.objects.filter(pk=int(term)).first()
    return Customer.objects.filter(email_normalized=term.lower()).first() if term else None


def latest_order(customer_id: int, *, shop_id: int | None = None) -> Order | None:
    """The customer's latest order (at ``shop_id``'s shop, if given)."""
    orders = Order.objects.filter(customer_id=customer_id)
    if shop_id is not None:
        orders = orders.filter(shop_id=shop_id)
    return orders.order_by("-placed_at").first()


def preview(*, template: str, shop_id: int | None, context: dict) -> tuple[Brand, Rendered]:
    """What a message would look like from this shop with this context. A marketing
    template shows its footer's unsubscribe link, going nowhere: there is no message to sign."""
    brand = brand_for(shop_id)
    info = TEMPLATES.get(template)
    link = "#unsubscribe" if info is not None and info.kind == MessageKind.MARKETING else ""
    return brand, render(template, context, brand, unsubscribe_url=link)


# Gmail and Yahoo's bulk-sender rules (February 2024): keep the spam rate Postmaster Tools
# shows under 0.1 %; at 0.3 % and above, mail is filtered or refused.
COMPLAINT_RATE_WARNING = 0.001
COMPLAINT_RATE_ALARM = 0.003
HEALTH_DAYS = 30


@dataclass(frozen=True)
class SenderHealth:
    """One shop's complaints over its delivered messages in the last ``HEALTH_DAYS`` days."""

    shop_id: int | None
    shop_name: str
    delivered: int
    complaints: int

    @property
    def rate(self) -> float:
        return self.complaints / self.delivered if self.delivered else 0.0

    @property
    def level(self) -> str:
        """ "ok", "warning" (above 0.1 %) or "alarm" (0.3 % and above)."""
        if self.rate >= COMPLAINT_RATE_ALARM:
            return "alarm"
        return "warning" if self.rate > COMPLAINT_RATE_WARNING else "ok"

    @property
    def text(self) -> str:
        """ "0.12 % of 8,341 delivered, 30 days" """
        return f"{self.rate * 100:.2f} % of {self.delivered:,} delivered, {HEALTH_DAYS} days"


def sender_health(*, now: datetime | None = None) -> list[SenderHealth]:
    """Each shop's complaint (spam) rate: messages complained about over messages delivered,
    of those sent in the last 30 days, worst first. One aggregate query (the sent-at index).

    "Delivered" is every message sent that did not bounce or fail: a provider that reports
    no deliveries leaves them "sent", and they count; one that does moves them on, and they
    still count. A complaint is about a delivered message, so it is in both figures. Gmail
    counts complaints against mail that reached the inbox, which the CRM cannot see; this
    is the figure to watch beside Postmaster Tools', not a copy of it."""
    since = (now or timezone.now()) - timedelta(days=HEALTH_DAYS)
    rows = (
        Message.objects.filter(sent_at__gte=since)
        .values("shop_id", "shop__name")
        .annotate(
            delivered=Count("id", filter=~Q(status__in=[MessageStatus.BOUNCED, MessageStatus.FAILED])),
            complaints=Count("id", filter=Q(status=MessageStatus.COMPLAINED)),
        )
        .order_by("shop_id")
    )
    health = [
        SenderHealth(
            shop_id=row["shop_id"],
            shop_name=row["shop__name"] or "No shop (the CRM's own)",
            delivered=row["delivered"],
            complaints=row["complaints"],
        )
        for row in rows
    ]
    return sorted(health, key=lambda h: (-h.rate, -h.delivered))


SENDER_HEALTH_CACHE_KEY = "messaging:sender-health"
# The panel above the message log reads the figures from the cache for this long: counting a
# month of a large sender's messages (600,000) takes about half a second on PostgreSQL, and a
# 30-day rate does not change in five minutes.
SENDER_HEALTH_CACHE_SECONDS = 300


@dataclass(frozen=True)
class SenderHealthReport:
    at: datetime
    shops: list[SenderHealth]


def sender_health_report() -> SenderHealthReport:
    """``sender_health`` as of at most ``SENDER_HEALTH_CACHE_SECONDS`` ago (when it was
    computed is part of it); computed afresh with the cache down."""
    report = cache.get(SENDER_HEALTH_CACHE_KEY)
    if not isinstance(report, SenderHealthReport):
        now = timezone.now()
        report = SenderHealthReport(at=now, shops=sender_health(now=now))
        cache.set(SENDER_HEALTH_CACHE_KEY, report, SENDER_HEALTH_CACHE_SECONDS)
    return report
