"""Marketing consent set by the person themselves (an unsubscribe link, a confirmed double
opt-in), outside a shop's payload: the identity's state and its history, together."""

from collections.abc import Iterable
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


def consents_withdraw(
    *, pairs: Iterable[tuple[int, int]], source: str, shown_text: str = "", now: datetime | None = None
) -> int:
    """Withdraw the marketing consent of each (customer id, shop id), as ``consent_set`` does
    for one, in a fixed number of queries for any number of them (a provider's webhook
    reports a batch of unsubscribes and complaints). Returns how many events it recorded.

    An identity whose consent is withdrawn already records nothing; a customer with no
    identity at that shop gets the event alone, as with ``consent_set``."""
    wanted = set(pairs)
    if not wanted:
        return 0
    now = now or timezone.now()
    # No savepoint of its own: the caller's transaction (a webhook's batch), or a new one.
    with transaction.atomic(savepoint=False):
        identities = list(
            CustomerIdentity.objects.filter(
                customer_id__in=sorted({c for c, _ in wanted}), shop_id__in=sorted({s for _, s in wanted})
            ).values_list("pk", "customer_id", "shop_id", "marketing_consent")
        )
        known: set[tuple[int, int]] = set()
        changing_pks: list[int] = []
        changed: set[tuple[int, int]] = set()
        for pk, customer_id, shop_id, consent in identities:
            if (customer_id, shop_id) not in wanted:
                continue
            known.add((customer_id, shop_id))
            if consent is not False:
                changing_pks.append(pk)
                changed.add((customer_id, shop_id))
        if changing_pks:
            CustomerIdentity.objects.filter(pk__in=changing_pks).update(
                marketing_consent=False, marketing_consent_at=now
            )
        recorded = sorted(changed | (wanted - known))
        ConsentEvent.objects.bulk_create(
            ConsentEvent(customer_id=c, shop_id=s, given=False, at=now, source=source, shown_text=shown_text)
            for c, s in recorded
        )
    return len(recorded)
