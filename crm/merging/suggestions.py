"""Suggested duplicates: pairs of customers that may be one person, for the staff to review
and merge by hand (never merged automatically).

A pair is suggested when the two have the same phone (``Customer.phone_digits``: the number
without punctuation or a leading 00, at least ``MIN_PHONE_DIGITS`` digits), or when two
shops shipped to the same address (``Order.shipping_address_key``, the address's
fingerprint) for two customers with a near-identical name: the same last name and first
initial, without case or accents. Customers already merged away are left out.

One SQL statement per page, on both databases: the pairs are found set-based (a self-join
per reason), newest first, a page of them read with one more to know if another follows.
"""

from dataclasses import dataclass

from django.db import connection

from customers.accents import SQL_FUNCTION
from customers.models import Customer
from customers.search import customer_search

MIN_PHONE_DIGITS = 7
PAGE_SIZE = 25


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

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def _folded(column: str) -> str:
    return f"LOWER({SQL_FUNCTION}({column}))"


PAIRS_SQL = f"""
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
    WHERE LENGTH(a.phone_digits) >= {MIN_PHONE_DIGITS}
    UNION ALL
    SELECT oa.customer_id, ob.customer_id, 0, 1
    FROM candidates oa
    JOIN candidates ob ON ob.shipping_address_key = oa.shipping_address_key
        AND ob.customer_id > oa.customer_id AND ob.shop_id <> oa.shop_id
    JOIN customers_customer a ON a.id = oa.customer_id
    JOIN customers_customer b ON b.id = ob.customer_id
    WHERE a.last_name <> ''
        AND {_folded("a.last_name")} = {_folded("b.last_name")}
        AND SUBSTR({_folded("a.first_name")}, 1, 1) = SUBSTR({_folded("b.first_name")}, 1, 1)
)
SELECT first_id, second_id, MAX(same_phone), MAX(same_address) FROM pairs p
WHERE NOT EXISTS (
    SELECT 1 FROM customers_customermerge m
    WHERE m.undone_at IS NULL AND (m.merged_id = p.first_id OR m.merged_id = p.second_id)
) {{search}}
GROUP BY first_id, second_id
ORDER BY second_id DESC, first_id DESC
LIMIT %s OFFSET %s
"""


def duplicate_suggestions(*, term: str = "", page: int = 1) -> SuggestionPage:
    """One page of suggested pairs, optionally only those where either customer matches the
    staff search's ``term`` (a name, email, phone …, as the customers list searches)."""
    page = max(page, 1)
    search_sql, notice = "", ""
    params: list = []
    if term.strip():
        search = customer_search(term)
        notice = search.notice
        if search.where is None:
            return SuggestionPage([], page, False, notice)
        matching = Customer.objects.filter(search.where).values("pk").order_by()
        sql, sql_params = matching.query.sql_with_params()
        search_sql = f"AND (p.first_id IN ({sql}) OR p.second_id IN ({sql}))"
        params = [*sql_params, *sql_params]
    with connection.cursor() as cursor:
        cursor.execute(PAIRS_SQL.format(search=search_sql), [*params, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE])
        rows = cursor.fetchall()
    has_next = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    ids = {i for row in rows for i in row[:2]}
    customers = Customer.objects.in_bulk(ids) if ids else {}
    return SuggestionPage(
        [Suggestion(customers[a], customers[b], bool(phone), bool(address)) for a, b, phone, address in rows],
        page,
        has_next,
        notice,
    )
