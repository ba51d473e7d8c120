"""What staff do with a campaign: send it now, schedule it, cancel it, send a test to
themselves, and preview it for a customer of its audience.

Send now and Schedule only write the campaign's status and time; the send pass
(``campaigns.campaigns.sending``) does the sending, asked for once the write commits and
run every minute anyway, so a lost ask (Redis down) delays a campaign by a minute at most.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from django.db import transaction
from django.utils import timezone

from campaigns.campaigns.audience import campaign_members
from campaigns.emails import authored_context
from campaigns.models import Campaign, CampaignStatus, Variant
from campaigns.tasks import send_due_campaigns
from core.errors import Conflict, DomainError
from customers.models import Customer
from messaging.authored import AUTHORED, authored_problems
from messaging.models import Message, MessageKind
from messaging.selectors import latest_order
from messaging.services import message_context, message_queue, order_values

# A test or a preview without a customer shows these.
SAMPLE_CUSTOMER = {"first_name": "Ann", "last_name": "Example", "name": "Ann Example", "email": "ann@example.com"}
# What the other apps lend a real customer's message (crm/wiring.py), made up likewise.
SAMPLE_ORDER = {"number": "#1001", "placed_on": "3 March 2026", "total": "42.00", "currency": "USD"}
SAMPLE_LENT = {"tier": "Gold", "points": 1250, "stage": "Retention", "last_order": SAMPLE_ORDER, "order": SAMPLE_ORDER}


def campaign_problems(campaign: Campaign) -> dict[str, str]:
    """What stops ``campaign`` from going out, by field; empty when it may."""
    problems: dict[str, str] = {}
    if not campaign.segments.exists():
        problems["segments"] = "Choose at least one segment to send to."
    variants = list(campaign.email.variants.all())
    if not variants:
        problems["variants"] = "Write at least one variant (subject and body)."
    for variant in variants:
        for name in ("subject", "preheader", "body"):
            if found := authored_problems(getattr(variant, name)):
                problems[f"variant {variant.label}: {name}"] = " ".join(found)
    return problems


def _go(campaign: Campaign, *, send_at: datetime, user) -> Campaign:
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        raise Conflict(f"The campaign is {campaign.get_status_display().lower()}: it cannot be sent again.")
    if problems := campaign_problems(campaign):
        field, text = next(iter(problems.items()))
        raise DomainError(text, field=field)
    with transaction.atomic():
        updated = Campaign.objects.filter(
            pk=campaign.pk, status__in=[CampaignStatus.DRAFT, CampaignStatus.SCHEDULED]
        ).update(status=CampaignStatus.SCHEDULED, send_at=send_at, scheduled_by=user, updated_at=timezone.now())
        if not updated:
            raise Conflict("The campaign changed meanwhile: reload the page.")
        # The pass also runs every minute: a lost ask (the broker down) only delays it.
        transaction.on_commit(send_due_campaigns.delay, robust=True)
    campaign.refresh_from_db()
    return campaign


# How far ahead a campaign may be scheduled, and the earliest time a form takes (a year such
# as 0001 or 9999 is a slip of the keyboard).
MAX_AHEAD = timedelta(days=366)
FIRST_SEND_AT = datetime(2000, 1, 1, tzinfo=UTC)


def campaign_send_now(*, campaign: Campaign, user, now: datetime | None = None) -> Campaign:
    return _go(campaign, send_at=now or timezone.now(), user=user)


def campaign_schedule(*, campaign: Campaign, user, now: datetime | None = None) -> Campaign:
    """Schedule at the campaign's ``send_at``, which must be set and in the future."""
    now = now or timezone.now()
    if campaign.send_at is None:
        raise DomainError("Set the time to send at first.", field="send_at")
    if campaign.send_at <= now:
        raise DomainError("The time to send at has passed: choose a later one, or send now.", field="send_at")
    if campaign.send_at > now + MAX_AHEAD:
        raise DomainError(f"Schedule at most {MAX_AHEAD.days} days ahead.", field="send_at")
    return _go(campaign, send_at=campaign.send_at, user=user)


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Stop a campaign that has not finished; messages queued already still go."""
    updated = Campaign.objects.filter(
        pk=campaign.pk, status__in=[CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.SENDING]
    ).update(status=CampaignStatus.CANCELLED, updated_at=timezone.now())
    if not updated:
        raise Conflict(f"The campaign is {campaign.get_status_display().lower()}: there is nothing to cancel.")
    campaign.refresh_from_db()
    return campaign


def audience_customer(campaign: Campaign, term: str) -> Customer | None:
    """The customer ``term`` names (an email address or a CRM id), if in the campaign's
    targets less its exclusions; None otherwise."""
    term = term.strip()
    found = campaign_members(campaign)
    if term.isdigit():
        return found.filter(pk=int(term)).first()
    return found.filter(email_normalized=term.lower()).first() if term else None


def preview_context(campaign: Campaign, variant: Variant, customer: Customer | None) -> dict:
    """The values a message of ``variant`` to ``customer`` gets (made-up ones without)."""
    extra: dict = {AUTHORED: authored_context(variant)}
    if customer is None:
        return {"customer": SAMPLE_CUSTOMER, "shop": {"name": campaign.shop.name}, **SAMPLE_LENT, **extra}
    order = latest_order(customer.pk, shop_id=campaign.shop_id)
    if order is not None:
        extra["order"] = order_values(order)
    return message_context(customer=customer, shop=campaign.shop, extra=extra)


def campaign_test_send(*, campaign: Campaign, variant: Variant, user, customer: Customer | None = None) -> Message:
    """``variant`` as ``customer`` would get it (made-up values without one), to the
    signed-in person's own address: a message of no customer, so no cap or history counts it."""
    if not user.email:
        raise DomainError("Your staff account has no email address to send the test to.", field="email")
    with transaction.atomic():
        return message_queue(
            key=f"test:campaign:{campaign.pk}:{user.pk}:{uuid4().hex}",
            template=AUTHORED,
            shop_id=campaign.shop_id,
            to_email=user.email,
            kind=MessageKind.TRANSACTIONAL,
            context=preview_context(campaign, variant, customer),
        )
