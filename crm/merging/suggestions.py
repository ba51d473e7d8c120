"""Suggested duplicates: pairs of customers that may be one person, for the staff to review
and merge by hand (never merged automatically).

A pair is suggested when the two have the same phone (``Customer.phone_digits``: the number
without punctuation or a leading 00, at least ``MIN_PHONE_DIGITS`` digits), or when two
shops shipped to the same address (``Order.shipping_address_key``, the address's
fingerprint) for two customers with a near-identical name: the same last name and first
initial, without case or accents. Customers already merged away are left out.

Finding the pairs reads every customer's phone and every order's address: about a second at
100,000 customers, too slow for each page. So the pairs are built into a table
(``DuplicateSuggestion``) by one set-based statement, ``INSERT … SELECT`` on both databases
(``suggestions_build``: nightly, and when the staff ask from the page), and a page reads a
page of that table by index (``duplicate_suggestions``). A pair whose customer was merged
away since the build is left out when read (the merge log's index on the merged customer).
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, Max, Min, OuterRef, Q
from django.utils import timezone

from core.chunks import chunk_run_range
from crm.merging.models import DuplicateSuggestion, SuggestionBuild
from customers.accents import SQL_FUNCTION
from customers.models import Customer, CustomerMerge
from customers.search import customer_search

MIN_PHONE_DIGITS = 7
PAGE_SIZE = 25
# A page's rebuild asked for longer ago than this and still not done (a worker down, the
# broker lost the task) may be asked for again by opening the page of a list never built.
REQUEST_AGAIN_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Suggestion:
    first: Customer
    second: Customer  # the newer record: the one a merge would usually fold into ``first``
    same_phone: bool
    same_address: bool

    @property
    def reasons(self) -> str:
        words = [w for w, on in (("same phone", self.same_phone), ("same name and address", self.same_address)) if on]
        return ", ".join(words)


@dataclass(frozen=True)
class SuggestionPage:
    suggestions: list[Suggestion]
    number: int
    has_next: bool
    notice: str = ""  # what the search said of the term, if anything
    build: SuggestionBuild | None = None  # when the list was built; None if it never was

    @property
    def has_previous(self) -> bool:
        return self.number > 1


# ----------------------------------------------------------------------------- the build


def _folded(column: str) -> str:
    return f"LOWER({SQL_FUNCTION}({column}))"


# The pairs whose first (older) customer's id is between the two parameters, written into
# the table. WITH before INSERT: the form both databases take.
BUILD_SQL = f"""
WITH addresses AS (
    SELECT DISTINCT customer_id, shop_id, shipping_address_key FROM customers_order
    WHERE shipping_address_key <> ''
),
shared AS (
    -- The few addresses that two customers and two shops have: only their rows are paired
    -- and have their names folded.
    SELECT shipping_address_key FROM addresses GROUP BY shipping_address_key
    HAVING COUNT(DISTINCT customer_id) > 1 AND COUNT(DISTINCT shop_id) > 1
),
candidates AS (
    SELECT customer_id, shop_id, shipping_address_key FROM addresses
    WHERE shipping_address_key IN (SELECT shipping_address_key FROM shared)
),
pairs AS (
    SELECT a.id AS first_id, b.id AS second_id, 1 AS same_phone, 0 AS same_address
    FROM customers_customer a
    JOIN customers_customer b ON b.phone_digits = a.phone_digits AND b.id > a.id
    WHERE LENGTH(a.phone_digits) >= {MIN_PHONE_DIGITS} AND a.id BETWEEN %s AND %s
    UNION ALL
    SELECT oa.customer_id, ob.customer_id, 0, 1
    FROM candidates oa
    JOIN candidates ob ON ob.shipping_address_key = oa.shipping_address_key
        AND ob.customer_id > oa.customer_id AND ob.shop_id <> oa.shop_id
    JOIN customers_customer a ON a.id = oa.customer_id
    JOIN customers_customer b ON b.id = ob.customer_id
    WHERE oa.customer_id BETWEEN %s AND %s
        AND a.last_name <> ''
        AND {_folded("a.last_name")} = {_folded("b.last_name")}
        AND SUBSTR({_folded("a.first_name")}, 1, 1) = SUBSTR({_folded("b.first_name")}, 1, 1)
)
INSERT INTO {DuplicateSuggestion._meta.db_table} (first_id, second_id, same_phone, same_address)
SELECT first_id, second_id, MAX(same_phone) = 1, MAX(same_address) = 1 FROM pairs p
WHERE NOT EXISTS (
    SELECT 1 FROM customers_customermerge m
    WHERE m.undone_at IS NULL AND (m.merged_id = p.first_id OR m.merged_id = p.second_id)
)
GROUP BY first_id, second_id
"""


def _insert_pairs(first_id: int, last_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(BUILD_SQL, [first_id, last_id, first_id, last_id])


def suggestions_build() -> SuggestionBuild:
    """Build the suggested pairs afresh, all at once: one transaction, so the page reads the
    old list until the new one is committed, and two builds run one after the other (the
    build row is locked first). Normally one statement; a customer whose data makes it fail
    is logged and left out, and every other pair is still built (``chunk_run_range``)."""
    SuggestionBuild.objects.get_or_create(pk=1)
    started, clock = timezone.now(), time.monotonic()
    with transaction.atomic():
        build = SuggestionBuild.objects.select_for_update().get(pk=1)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {DuplicateSuggestion._meta.db_table}")
        bounds = Customer.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
        if bounds["lo"] is not None:
            chunk_run_range("duplicate suggestions", bounds["lo"], bounds["hi"], _insert_pairs, empty=None)
        # Counted, not the statement's row count: SQLite gives none for an INSERT after WITH.
        build.built_at, build.pairs = started, DuplicateSuggestion.objects.count()
        build.took = timedelta(seconds=time.monotonic() - clock)
        if build.requested_at is not None and build.requested_at <= started:
            build.requested_at = None  # answered by this build
        build.save()
    return build


def suggestions_rebuild_request(*, now: datetime | None = None) -> SuggestionBuild:
    """Note that the staff asked for a rebuild (the page says so until it is done); the
    caller queues the build task."""
    build, _ = SuggestionBuild.objects.update_or_create(pk=1, defaults={"requested_at": now or timezone.now()})
    return build


def needs_first_build(build: SuggestionBuild | None, *, now: datetime | None = None) -> bool:
    """A list never built, with no rebuild asked for lately: the page asks for one."""
    if build is not None and build.built_at is not None:
        return False
    requested = build.requested_at if build is not None else None
    return requested is None or requested < (now or timezone.now()) - REQUEST_AGAIN_AFTER


# ------------------------------------------------------------------------------ the page


def duplicate_suggestions(*, term: str = "", page: int = 1) -> SuggestionPage:
    """One page of the built pairs, newest first, optionally only those where either
    customer matches the staff search's ``term`` (a name, email, phone …, as the customers
    list searches). Two queries: the build row, and the page with its customers."""
    page = max(page, 1)
    build = SuggestionBuild.objects.filter(pk=1).first()
    notice = ""
    merged_away = CustomerMerge.objects.filter(undone_at=None)
    pairs = (
        DuplicateSuggestion.objects.exclude(Exists(merged_away.filter(merged=OuterRef("first_id"))))
        .exclude(Exists(merged_away.filter(merged=OuterRef("second_id"))))
        .select_related("first", "second")
        .order_by("-second_id", "-first_id")
    )
    if term.strip():
        search = customer_search(term)
        notice = search.notice
        if search.where is None:
            return SuggestionPage([], page, False, notice, build)
        matching = Customer.objects.filter(search.where).values("pk").order_by()
        pairs = pairs.filter(Q(first__in=matching) | Q(second__in=matching))
    offset = (page - 1) * PAGE_SIZE
    rows = list(pairs[offset : offset + PAGE_SIZE + 1])
    return SuggestionPage(
        [Suggestion(r.first, r.second, r.same_phone, r.same_address) for r in rows[:PAGE_SIZE]],
        page,
        len(rows) > PAGE_SIZE,
        notice,
        build,
    )
