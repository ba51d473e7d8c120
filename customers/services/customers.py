"""Customer unification: find or create the one person behind a shop's customer reference.

A shop names a customer by its own ``external_id`` and usually an email. The rules:
1. a known (shop, external_id) identity wins;
2. otherwise a customer with the same normalised email is the same person;
3. otherwise a new customer is created.
A shop's non-empty values overwrite the stored profile; empty values never erase it.

Two profiles are kept: the shop's own, on its identity (what a shop's key reads back, so no
shop's write changes what another shop sent), and the merged one on the ``Customer`` row
(what the staff see), where the most recent update wins, whichever shop sent it.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from django.db import connection
from django.utils import timezone

from core.db.server_binding import server_binding_cursor
from customers.models import ConsentEvent, ConsentSource, Customer, CustomerIdentity, Shop, ShopTag, Tag
from customers.services.erased_emails import erased_among

PROFILE_FIELDS = ("first_name", "last_name", "phone", "country", "birthday", "time_zone")
# What an identity keeps of what its shop sent: the profile, where a non-empty value
# overwrites and an empty one never erases, and the first touch, set once.
IDENTITY_PROFILE = ("email", *PROFILE_FIELDS, "marketing_consent", "marketing_consent_at")
IDENTITY_FIRST_TOUCH = ("first_seen_at", "source", "utm_source", "utm_medium", "utm_campaign")


@dataclass(frozen=True)
class CustomerData:
    external_id: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    country: str = ""
    birthday: date | None = None
    time_zone: str = ""  # IANA name, checked by the caller (core.time_zones)
    marketing_consent: bool | None = None
    source: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


def normalize_email(email: str) -> str | None:
    email = (email or "").strip().lower()
    return email or None


def identity_key(item: CustomerData) -> str:
    """The shop's reference for the customer: its external_id, or ``email:<email>`` without one,
    so every customer a shop sends is linked to that shop."""
    if item.external_id:
        return item.external_id
    email = normalize_email(item.email)
    return f"email:{email}" if email else ""


def _batch_key(item: CustomerData) -> tuple[str, str]:
    email = normalize_email(item.email)
    return ("email", email) if email else ("external_id", item.external_id)


def _new_customer(shop: Shop, item: CustomerData, seen_at: datetime, now: datetime) -> Customer:
    return Customer(
        email=item.email.strip(),
        email_normalized=normalize_email(item.email),
        first_name=item.first_name,
        last_name=item.last_name,
        phone=item.phone,
        country=item.country,
        birthday=item.birthday,
        time_zone=item.time_zone,
        marketing_consent=bool(item.marketing_consent),
        marketing_consent_at=now if item.marketing_consent else None,
        first_seen_at=seen_at,
        first_seen_shop=shop,
        source=item.source or shop.slug,
        utm_source=item.utm_source,
        utm_medium=item.utm_medium,
        utm_campaign=item.utm_campaign,
    )


def _apply_profile(customer: Customer, item: CustomerData, now: datetime) -> bool:
    """Copy the item's non-empty values onto ``customer``; True if anything changed.

    The email is not among them: it is the unifying key, so ``customers_resolve`` fills it
    in where a customer has none and never switches it.
    """
    changed = False
    for name in PROFILE_FIELDS:
        value = getattr(item, name)
        if value not in ("", None) and getattr(customer, name) != value:
            setattr(customer, name, value)
            changed = True
    if item.marketing_consent is not None and item.marketing_consent != customer.marketing_consent:
        customer.marketing_consent = item.marketing_consent
        customer.marketing_consent_at = now
        changed = True
    return changed


@dataclass(frozen=True)
class Resolved:
    ids: list[int]  # the customer of each item, in the items' order
    # Those of them new to the shop's group: created by this call (or a concurrent one, a
    # moment before), or known until now only to shops of other groups. Which of the two is
    # never told apart outside this module: a key must not learn who shops elsewhere.
    created: set[int]


def _identity_merge(current: dict | None, item: CustomerData, seen: datetime, now: datetime) -> dict | None:
    """The identity's profile after ``item``, or None when ``item`` changes nothing.

    ``current`` is the stored (or earlier in the batch merged) profile, None for a new identity.
    """
    if current is None:
        merged = {name: "" for name in IDENTITY_PROFILE} | {"birthday": None, "marketing_consent": None}
        merged |= {"marketing_consent_at": None, "first_seen_at": seen, "source": item.source}
        merged |= {name: getattr(item, name) for name in ("utm_source", "utm_medium", "utm_campaign")}
        changed = True
    else:
        merged, changed = dict(current), False
    email = item.email.strip()
    for name, value in (("email", email), *((n, getattr(item, n)) for n in PROFILE_FIELDS)):
        if value not in ("", None) and merged[name] != value:
            merged[name], changed = value, True
    if item.marketing_consent is not None and item.marketing_consent != merged["marketing_consent"]:
        merged["marketing_consent"], merged["marketing_consent_at"], changed = item.marketing_consent, now, True
    return merged if changed else None


def _without_consent(item: CustomerData) -> CustomerData:
    return replace(item, marketing_consent=None) if item.marketing_consent else item


def _identity_profile(identity: CustomerIdentity) -> dict:
    return {name: getattr(identity, name) for name in (*IDENTITY_PROFILE, *IDENTITY_FIRST_TOUCH)}


def customers_resolve(
    *,
    shop: Shop,
    items: Sequence[CustomerData],
    seen_at: Sequence[datetime] | None = None,
    consent_source: str = ConsentSource.API,
    consent_shown: str = "",
) -> Resolved:
    """The customer of each item, creating customers and identities as needed, and writing
    each item's profile to its shop identity (and, merged, to the customer). Where an
    identity's marketing consent changes, a ``ConsentEvent`` from ``consent_source`` says so
    (with ``consent_shown``: what the person was shown).

    Set-based: a fixed number of queries whatever the number of items. Safe under concurrent
    calls: creation is an upsert on the unique email and identity keys, so two requests that
    introduce the same person end with one customer.
    """
    now = timezone.now()
    seen_at = seen_at or [now] * len(items)
    keys = [identity_key(i) for i in items]
    external_ids = set(keys) - {""}
    # Two index lookups: this shop's identities (with their customers), then customers by
    # email for the rest (an OR of the two would make PostgreSQL scan the table).
    linked = (
        CustomerIdentity.objects.filter(shop_id=shop.pk, external_id__in=external_ids)
        .select_related("customer")
        .order_by()
    )
    existing: dict[int, Customer] = {}
    identities: dict[str, int] = {}
    profiles: dict[str, dict] = {}  # each identity's profile: stored, then as the batch changes it
    for identity in linked if external_ids else ():
        existing[identity.customer_id] = identity.customer
        identities[identity.external_id] = identity.customer_id
        profiles[identity.external_id] = _identity_profile(identity)
    emails = {normalize_email(i.email) for i in items} - {None}
    # An erased address is never subscribed again by a shop (docs/privacy.md): one query, and
    # only when the batch gives consent.
    consenting = {normalize_email(i.email) for i in items if i.marketing_consent} - {None}
    if consenting and (erased := erased_among(consenting)):
        items = [_without_consent(i) if normalize_email(i.email) in erased else i for i in items]
    if emails - {c.email_normalized for c in existing.values()}:
        existing.update((c.pk, c) for c in Customer.objects.filter(email_normalized__in=emails))
    by_email = {c.email_normalized: c.pk for c in existing.values() if c.email_normalized}

    # Which customer each item is, where one exists; the rest are created once per batch key.
    resolved: list[int | None] = []
    to_create: dict[tuple[str, str], Customer] = {}
    for item, key, seen in zip(items, keys, seen_at, strict=True):
        customer_id = identities.get(key) if key else None
        if customer_id is None:
            customer_id = by_email.get(normalize_email(item.email))
        resolved.append(customer_id)
        if customer_id is None:
            batch_key = _batch_key(item)
            if batch_key not in to_create:
                to_create[batch_key] = _new_customer(shop, item, seen, now)
            else:
                _apply_profile(to_create[batch_key], item, now)

    changed = {}
    for item, customer_id in zip(items, resolved, strict=True):
        if customer_id is None:
            continue
        customer = existing[customer_id]
        email = normalize_email(item.email)
        # A customer known only by a shop's id gets the email, unless another customer has it.
        filled = bool(email) and customer.email_normalized is None and email not in by_email
        if filled:
            customer.email, customer.email_normalized = item.email.strip(), email
            by_email[email] = customer_id
        if _apply_profile(customer, item, now) or filled:
            changed[customer_id] = customer
    if changed:
        Customer.objects.bulk_update(
            sorted(changed.values(), key=lambda c: c.pk),
            [*PROFILE_FIELDS, "email", "email_normalized", "marketing_consent", "marketing_consent_at", "updated_at"],
        )

    # Found by email but not by this shop's reference: new to the group unless one of the
    # group's shops already has an identity for them.
    found_elsewhere = {cid for key, cid in zip(keys, resolved, strict=True) if cid and key not in identities}
    new_to_group = found_elsewhere - _in_group(shop, found_elsewhere)

    if to_create:
        # An upsert on the email: a concurrent request that created the same person first
        # makes this a no-op update that still returns that customer's id.
        Customer.objects.bulk_create(
            # Sorted, so concurrent batches lock the same emails in the same order (no deadlock).
            sorted(to_create.values(), key=lambda c: c.email_normalized or ""),
            update_conflicts=True,
            unique_fields=["email_normalized"],
            update_fields=["updated_at"],
        )
        for i, item in enumerate(items):
            if resolved[i] is None:
                resolved[i] = to_create[_batch_key(item)].pk
    created = {c.pk for c in to_create.values()} | new_to_group

    # Link every (shop, external_id) to its customer and write the shop's profile to it; a
    # concurrent request's link wins. Only new identities and changed profiles are written.
    writes: dict[str, tuple[int, dict]] = {}
    for item, key, seen, customer_id in zip(items, keys, seen_at, resolved, strict=True):
        if not key:
            continue
        current = writes[key][1] if key in writes else profiles.get(key)
        merged = _identity_merge(current, item, seen, now)
        if merged is not None:
            writes[key] = (identities.get(key, customer_id), merged)
    inserted: set[str] = set()
    if writes:
        winners, inserted = _identities_write(shop.pk, writes, now, known=set(identities))
        _consent_events_write(shop.pk, profiles, writes, winners, now, consent_source, consent_shown)
        resolved = [winners.get(key, cid) for key, cid in zip(keys, resolved, strict=True)]
    # New to the group only where this call linked the shop's identity: of concurrent calls
    # introducing the same person, the one whose link won.
    created = {cid for key, cid in zip(keys, resolved, strict=True) if cid in created and key in inserted}

    tagged = [(cid, item.tags) for item, cid in zip(items, resolved, strict=True) if item.tags]
    if tagged:
        customers_add_tags(pairs=tagged, shop=shop)
    return Resolved(ids=resolved, created=created)


def _consent_events_write(
    shop_id: int,
    stored: dict[str, dict],
    writes: dict[str, tuple[int, dict]],
    winners: dict[str, int],
    now: datetime,
    source: str,
    shown: str,
) -> None:
    """A consent event for each identity whose consent this call changed: given, or
    withdrawn after it was given. A shop's first "no" for a customer who never gave it is
    not a withdrawal and records nothing; the same value sent again records nothing."""
    events = []
    for key, (customer_id, merged) in writes.items():
        before = (stored.get(key) or {}).get("marketing_consent")
        after = merged["marketing_consent"]
        if after is None or after == before or (before is None and not after):
            continue
        customer_id = winners.get(key, customer_id)
        events.append(
            ConsentEvent(customer_id=customer_id, shop_id=shop_id, given=after, at=now, source=source, shown_text=shown)
        )
    ConsentEvent.objects.bulk_create(events)


def _in_group(shop: Shop, customer_ids: set[int]) -> set[int]:
    """Those of ``customer_ids`` that a shop of ``shop``'s group has an identity for."""
    if not customer_ids:
        return set()
    linked = CustomerIdentity.objects.filter(customer_id__in=customer_ids, shop__group_id=shop.group_id)
    return set(linked.values_list("customer_id", flat=True).distinct().order_by())


NULLABLE = ("birthday", "marketing_consent", "marketing_consent_at")
IDENTITY_COLUMNS = ("shop_id", "customer_id", "external_id", *IDENTITY_PROFILE, *IDENTITY_FIRST_TOUCH)
# Rows per statement on SQLite: 2 + len(IDENTITY_COLUMNS) parameters each stays under its 32,766.
IDENTITY_BATCH = 1500


def _identities_write(
    shop_id: int, writes: dict[str, tuple[int, dict]], now: datetime, known: set[str]
) -> tuple[dict[str, int], set[str]]:
    """Upsert (shop, external_id) → customer links with the shop's profile; returns each
    external_id's customer, and the external_ids whose link this statement inserted.

    ``known``: the external_ids linked when the caller read them. On PostgreSQL the insert
    itself says which rows it created (``xmax = 0``), so of two concurrent requests that
    introduce the same person only one is told it did; SQLite runs one writer at a time, so
    what the caller read is still true.

    One statement per batch. An existing link keeps its customer (a concurrent request's link
    wins) and takes the profile values that are not empty, so a concurrent write with fewer
    fields never erases one; the first touch stays as first written. RETURNING gives back
    the customer of the row that won.
    """
    table = CustomerIdentity._meta.db_table
    ops = connection.ops
    stamp = ops.adapt_datetimefield_value(now)
    adapt = {
        "birthday": ops.adapt_datefield_value,
        "marketing_consent_at": ops.adapt_datetimefield_value,
        "first_seen_at": ops.adapt_datetimefield_value,
    }
    updates = ["updated_at = EXCLUDED.updated_at"]
    for name in IDENTITY_PROFILE:
        new = f"EXCLUDED.{name}" if name in NULLABLE else f"NULLIF(EXCLUDED.{name}, '')"
        updates.append(f"{name} = COALESCE({new}, {table}.{name})")
    columns = ("created_at", "updated_at", *IDENTITY_COLUMNS)
    returning = "external_id, customer_id" + (", (xmax = 0)" if connection.vendor == "postgresql" else "")
    conflict = f"ON CONFLICT (shop_id, external_id) DO UPDATE SET {', '.join(updates)} RETURNING {returning}"
    winners: dict[str, int] = {}
    rows = [
        (
            stamp,
            stamp,
            shop_id,
            customer_id,
            external_id,
            *(adapt[n](profile[n]) if n in adapt else profile[n] for n in (*IDENTITY_PROFILE, *IDENTITY_FIRST_TOUCH)),
        )
        for external_id, (customer_id, profile) in sorted(writes.items())  # one lock order for every batch
    ]
    if connection.vendor == "postgresql":
        # One array per column, bound on the server: a VALUES list of 20 placeholders a row,
        # bound client-side, cost a 1,000-order bulk request 0.2 s in psycopg's Python.
        types = [CustomerIdentity._meta.get_field(name).db_type(connection) for name in columns]
        arrays = ", ".join(f"%b::{t}[]" for t in types)
        with server_binding_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) {conflict}",
                [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in columns],
            )
            returned = cursor.fetchall()
        winners.update((external_id, customer_id) for external_id, customer_id, _ in returned)
        return winners, {external_id for external_id, _, inserted in returned if inserted}
    with connection.cursor() as cursor:
        for start in range(0, len(rows), IDENTITY_BATCH):
            batch = rows[start : start + IDENTITY_BATCH]
            values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(batch))
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values} {conflict}",
                [value for row in batch for value in row],
            )
            winners.update(cursor.fetchall())
    return winners, set(writes) - known


def customers_add_tags(*, pairs: Sequence[tuple[int, Sequence[str]]], shop: Shop | None = None) -> None:
    """Add tags to customers (never removes any): to the staff's merged set and, when a shop
    sent them, to that shop's own (``ShopTag``, what its key reads). Three queries for any
    number of pairs, four with a shop."""
    names = {name for _, tags in pairs for name in tags}
    Tag.objects.bulk_create([Tag(name=n) for n in names], ignore_conflicts=True)
    tag_ids = dict(Tag.objects.filter(name__in=names).values_list("name", "id"))
    through = Customer.tags.through
    unique = sorted({(cid, tag_ids[n]) for cid, tags in pairs for n in tags})
    through.objects.bulk_create([through(customer_id=c, tag_id=t) for c, t in unique], ignore_conflicts=True)
    if shop is not None:
        ShopTag.objects.bulk_create(
            [ShopTag(shop_id=shop.pk, customer_id=c, tag_id=t) for c, t in unique], ignore_conflicts=True
        )


def customer_upsert(*, shop: Shop, data: CustomerData) -> tuple[int, bool]:
    """Create or update one customer by external id or email: (its id, whether it is new)."""
    result = customers_resolve(shop=shop, items=[data])
    (customer_id,) = result.ids
    return customer_id, customer_id in result.created
