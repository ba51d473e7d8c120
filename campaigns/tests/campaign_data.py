"""Building blocks of the campaign tests: a shop's consenting customers, static segments
and a campaign with its email and variants."""

from datetime import UTC, datetime, timedelta

from campaigns.models import Campaign, Email, Segment, SegmentMembership, Variant
from customers.models import Customer, CustomerIdentity

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def customer(shop, *, consent=True, time_zone="", email=None, first_name="Ann", **fields) -> Customer:
    made = Customer.objects.create(first_name=first_name, time_zone=time_zone, **fields)
    address = email if email is not None else f"c{made.pk}@example.com"
    made.email, made.email_normalized = address, (address.lower() or None)
    made.save(update_fields=["email", "email_normalized"])
    CustomerIdentity.objects.create(
        shop=shop, customer=made, external_id=f"x{made.pk}", email=address, marketing_consent=consent
    )
    return made


def segment(name: str, members) -> Segment:
    made = Segment.objects.create(name=name, kind=Segment.Kind.STATIC)
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=made, customer=c, entered_at=NOW - timedelta(days=1)) for c in members]
    )
    return made


def campaign(shop, targets, *, excluded=(), variants=(("A", 1),), holdout=0, **fields) -> Campaign:
    email = Email.objects.create(shop=shop, name="Summer sale", holdout_percent=holdout)
    for label, weight, *rest in variants:
        Variant.objects.create(
            email=email,
            label=label,
            weight=weight,
            subject=f"{label}: hello {{{{ customer.first_name }}}}",
            body="<p>Dear {{ customer.first_name }}, ten per cent off.</p>",
            send_hour=rest[0] if rest else None,
        )
    made = Campaign.objects.create(shop=shop, name="Summer sale", email=email, **fields)
    made.segments.set(targets)
    made.excluded_segments.set(excluded)
    return made
