"""Marketing consent set by the person themselves (an unsubscribe link, a confirmed double
opt-in), outside a shop's payload: the identity's state and its history, together."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from customers.models import ConsentEvent, CustomerIdentity


def consent_set(
    *, customer_id: int, shop_id: int, given: bool, source: str, shown_text: str = "", now: datetime | None = None
) -> bool:
    """Set the customer's marketing consent to ``shop_id`` and record the change; True if it
    changed. Saying the same again records nothing. A customer with no identity at that shop
    gets the event alone (the history is the person's word, whoever sent their data)."""
    now = now or timezone.now()
    with transaction.atomic():
        identities = CustomerIdentity.objects.filter(customer_id=customer_id, shop_id=shop_id)
        changed = identities.exclude(marketing_consent=given).update(marketing_consent=given, marketing_consent_at=now)
        if not changed and identities.exists():
            return False
        ConsentEvent.objects.create(
            customer_id=customer_id, shop_id=shop_id, given=given, at=now, source=source, shown_text=shown_text
        )
        return True
