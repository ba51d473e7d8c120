"""Marketing consent set by the person themselves (an unsubscribe link, a confirmed double
opt-in) or by the staff in the admin, outside a shop's payload: the identity's state and its
history, together."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from customers.models import ConsentEvent, Customer, CustomerIdentity


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
        merged_consent_follow({customer_id}, now)
        ConsentEvent.objects.create(
            customer_id=customer_id, shop_id=shop_id, given=given, at=now, source=source, shown_text=shown_text
        )
        return True


def identities_consent_set(
    *,
    changes: Mapping[int, bool | None],
    source: str,
    by_id: int | None = None,
    shown_text: str = "",
    now: datetime | None = None,
) -> list[ConsentEvent]:
    """Set the marketing consent of several shop identities (identity id → given, withdrawn,
    or None: unknown) as a staff member did, and record each real change as a
    ``ConsentEvent`` from ``source``, by ``by_id``. Returns the events written.

    The rules of every other source: saying the same again records nothing, and neither
    does a first "no" (or "unknown") for a customer who never gave it; clearing consent that
    was given is a withdrawal. The customer's merged consent follows: given while any of
    their shops has it. Set-based: one locking read, at most three updates of identities
    and two of customers, one insert, whatever the number of changes.
    """
    now = now or timezone.now()
    with transaction.atomic():
        stored = (
            CustomerIdentity.objects.select_for_update()
            .filter(pk__in=list(changes))
            .order_by("pk")  # one lock order for concurrent calls
            .values_list("pk", "customer_id", "shop_id", "marketing_consent")
        )
        by_value: dict[bool | None, list[int]] = {}
        customers: set[int] = set()
        events = []
        for pk, customer_id, shop_id, before in stored:
            after = changes[pk]
            if after == before:
                continue
            by_value.setdefault(after, []).append(pk)
            customers.add(customer_id)
            if after or before:  # given, or given before and no longer
                events.append(
                    ConsentEvent(
                        customer_id=customer_id,
                        shop_id=shop_id,
                        given=bool(after),
                        at=now,
                        source=source,
                        shown_text=shown_text,
                        by_id=by_id,
                    )
                )
        for value, pks in by_value.items():
            CustomerIdentity.objects.filter(pk__in=pks).update(
                marketing_consent=value, marketing_consent_at=now if value is not None else None, updated_at=now
            )
        if customers:
            merged_consent_follow(customers, now)
        return ConsentEvent.objects.bulk_create(events)


def merged_consent_follow(customer_ids: set[int], now: datetime) -> None:
    """The merged consent the staff's lists and segments read, after a change made outside
    a shop's payload (the staff, an unsubscribe, a confirmed opt-in): given while any shop
    of the customer has it, withdrawn when none has. Two updates."""
    given = Exists(CustomerIdentity.objects.filter(customer_id=OuterRef("pk"), marketing_consent=True))
    customers = Customer.objects.filter(pk__in=sorted(customer_ids))
    customers.filter(marketing_consent=False).filter(given).update(
        marketing_consent=True, marketing_consent_at=now, updated_at=now
    )
    customers.filter(marketing_consent=True).exclude(given).update(
        marketing_consent=False, marketing_consent_at=now, updated_at=now
    )


def customers_consent_withdraw(
    *, customer_ids: Sequence[int], source: str, by_id: int | None = None, now: datetime | None = None
) -> list[ConsentEvent]:
    """Withdraw these customers' marketing consent at every shop that has it (a customer
    who asked, on the phone, for no more marketing). Returns the events written."""
    now = now or timezone.now()
    with transaction.atomic():
        given = CustomerIdentity.objects.filter(customer_id__in=list(customer_ids), marketing_consent=True)
        changes: dict[int, bool | None] = dict.fromkeys(given.values_list("pk", flat=True), False)
        events = identities_consent_set(changes=changes, source=source, by_id=by_id, now=now) if changes else []
        # A customer no shop has sent (made in the admin) has the merged value alone.
        Customer.objects.filter(pk__in=list(customer_ids), marketing_consent=True).update(
            marketing_consent=False, marketing_consent_at=now, updated_at=now
        )
        return events


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
            merged_consent_follow({c for c, _ in changed}, now)
        recorded = sorted(changed | (wanted - known))
        ConsentEvent.objects.bulk_create(
            ConsentEvent(customer_id=c, shop_id=s, given=False, at=now, source=source, shown_text=shown_text)
            for c, s in recorded
        )
    return len(recorded)
