"""Rows that hold a customer's personal data without a foreign key to them: found by what
they contain (the person's addresses, their shop ids), and what erasure does to them.

The personal-data marks test requires a matcher here for every model with personal fields
(``ERASE``) and no path to a customer."""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet

from crm.connectors.models import WebhookDelivery
from crm.models import IdempotencyRecord
from crm.webhooks.models import OutboundDelivery
from customers.models import Customer, CustomerIdentity, Shop
from customers.selectors import customer_refs, merged_into
from customers.services.customers import normalize_email
from messaging.models import Message, Suppression


@dataclass(frozen=True)
class Person:
    """What identifies a customer in rows that do not point at them."""

    customer_id: int
    customer_ids: tuple[int, ...]  # the customer and the duplicates merged into them
    addresses: frozenset[str]  # normalised
    spellings: frozenset[str]  # the addresses as stored and as sent, for searching raw bodies
    shop_ids: frozenset[int]
    refs: dict[int, int]  # shop id -> the id that shop's key knows the customer by


def person_of(customer: Customer) -> Person:
    """The person behind the customer, and behind the duplicates merged into them."""
    ids = merged_into(customer.pk)
    own = Customer.objects.filter(pk__in=ids).values_list("email", flat=True)
    identities = list(CustomerIdentity.objects.filter(customer_id__in=ids).values_list("shop_id", "email"))
    sent_to = Message.objects.filter(customer_id__in=ids).values_list("to_email", flat=True).distinct()
    raw = {e.strip() for e in [*own, *(e for _, e in identities), *sent_to] if e and e.strip()}
    addresses = {normalize_email(e) for e in raw}
    shops = Shop.objects.filter(pk__in={shop_id for shop_id, _ in identities}).select_related("group")
    refs = {shop.pk: customer_refs(shop=shop, customer_ids=[customer.pk]).get(customer.pk) for shop in shops}
    addresses.discard(None)
    return Person(customer.pk, tuple(ids), frozenset(addresses), frozenset(raw | addresses), frozenset(refs), refs)


def deliveries(person: Person) -> QuerySet:
    """The platforms' raw deliveries to the person's shops whose body names one of their
    addresses (a byte search: the body is stored as it came)."""
    if not person.spellings:
        return WebhookDelivery.objects.none()
    if connection.vendor == "postgresql":
        test = "position(convert_to(%s, 'UTF8') in body) > 0"
    else:
        test = "instr(body, CAST(%s AS BLOB)) > 0"
    needles = sorted(person.spellings)
    return WebhookDelivery.objects.filter(shop_id__in=person.shop_ids).extra(
        where=["(" + " OR ".join([test] * len(needles)) + ")"], params=needles
    )


def idempotency_records(person: Person) -> QuerySet:
    """The stored API answers of the person's shops. An answer may hold anything the person
    sent (a ticket message) with nothing to tell it is theirs, and all of them are under a day
    old (``IDEMPOTENCY_TTL``): an erasure deletes them all. A client retrying a request across
    the erasure has it run again."""
    return IdempotencyRecord.objects.filter(shop_id__in=person.shop_ids)


def idempotency_records_naming(person: Person) -> QuerySet:
    """The stored API answers that name the person (one of their addresses, or the id their
    shop knows them by as a ``customer_id``): what an export holds. The others are other
    people's. A bare ``"id"`` is not matched: an order or a ticket may carry the same number."""
    condition = Q()
    for spelling in sorted(person.spellings):
        condition |= Q(response_body__icontains=spelling)
    for shop_id, ref in person.refs.items():
        if ref is None:
            continue
        for named in (f'"customer_id":{ref}', f'"customer_id": {ref}'):  # compact JSON, or spaced
            for end in (",", "}"):
                condition |= Q(shop_id=shop_id, response_body__contains=named + end)
    return idempotency_records(person).filter(condition) if condition else IdempotencyRecord.objects.none()


def outbound_deliveries(person: Person) -> QuerySet:
    """Events sent (or to be sent) to the shops' endpoints about the person."""
    condition = Q()
    for shop_id, ref in person.refs.items():
        if ref is not None:
            condition |= Q(endpoint__shop_id=shop_id, payload__data__customer__id=ref)
    return OutboundDelivery.objects.filter(condition) if condition else OutboundDelivery.objects.none()


def suppressions(person: Person) -> QuerySet:
    return Suppression.objects.filter(address__in=sorted(person.addresses))


@dataclass(frozen=True)
class Matcher:
    rows: Callable[[Person], QuerySet]
    # What erasure does: "delete" the rows, or blank their ERASE fields.
    erasure: str
    # The rows an export holds, where erasure takes more than the person's own.
    exported: Callable[[Person], QuerySet] | None = None

    def export_rows(self, person: Person) -> QuerySet:
        return (self.exported or self.rows)(person)


MATCHERS: dict[str, Matcher] = {
    "crm.WebhookDelivery": Matcher(deliveries, "blank"),
    # A stored answer replays verbatim; blanked it would replay as garbage, so it goes.
    "crm.IdempotencyRecord": Matcher(idempotency_records, "delete", exported=idempotency_records_naming),
    "crm.OutboundDelivery": Matcher(outbound_deliveries, "blank"),
    # The address itself is the data; the erased list (customers.ErasedEmail) holds its hash.
    "messaging.Suppression": Matcher(suppressions, "delete"),
}
