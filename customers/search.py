"""Staff search: from what an agent has at hand to the customers it names.

A caller gives a name, an email or part of one, a phone number however they say it, an
order number, the shop's customer id or the CRM id. ``customer_search`` tries every way the
term can be read. The ways through other tables (identities, orders) are looked up first,
by id, in one UNION of index probes; the rest are conditions on the customers table, ORed
with those ids. An OR across tables would make PostgreSQL scan them all; an OR within one
table is one bitmap of its indexes (docs/architecture.md, "Customer search").

Partial matching (``LIKE '%…%'``) is served on PostgreSQL by trigram indexes
(``customers/migrations/0016_customer_search_indexes.py``), which need three letters or
digits to be selective: shorter terms match only whole ids. SQLite (the demo) scans, which
at its size is instant.
"""

from dataclasses import dataclass

from django.db.models import CharField, Func, Q, Value
from django.db.models.functions import Reverse
from django.db.models.lookups import Contains, EndsWith, In, StartsWith

from customers import accents
from customers.models import CustomerIdentity, Order, Shop
from customers.phones import phone_digits, phone_match

# Letters or digits a term needs before names and emails match in part.
MIN_PARTIAL = 3
# Digits a phone number needs before its end matches (fewer would match thousands).
MIN_PHONE_DIGITS = 6
# The longest value a searched column holds (a shop's customer id): longer matches nothing.
MAX_TERM = 320
# More customers than one shop's customer id or order number can name (a bound, not a limit).
MAX_IDS = 1_000
# Order numbers are often said with the "#" shops print before them.
ORDER_NUMBER_SIGN = "#"

SEARCH_HELP = (
    f"Find a customer by name, or part of an email before its @ (at least {MIN_PARTIAL} letters or "
    f"digits); a phone number written any way (at least its last {MIN_PHONE_DIGITS} digits); an order "
    "number, a shop's customer id or a CRM id (whole)."
)
# The search box's placeholder: a hint, as long as the box is wide.
SEARCH_HINT = "Name, email, phone, order number or id"


class SearchName(Func):
    """``LOWER(crm_unaccent(first_name || ' ' || last_name))``: the name as the search reads
    it, lowered and without accents (``customers/accents.py``), and the expression of the
    trigram index ``customer_name_folded_trgm_idx``."""

    template = f"LOWER({accents.SQL_FUNCTION}(%(expressions)s))"
    arg_joiner = " || ' ' || "
    output_field = CharField()

    def __init__(self, **extra):
        super().__init__("first_name", "last_name", **extra)


class EmailLocalPart(Func):
    """The email before its "@", the expression of the trigram index
    ``customer_email_local_trgm_idx``. Not the whole address: every customer at one provider
    shares its domain's trigrams ("gma", "mai", "ail", ".co", "com"), whose lists in the
    index are as long as the table, and the index reads every list the term holds."""

    template = "SPLIT_PART(%(expressions)s, '@', 1)"
    output_field = CharField()

    def __init__(self, **extra):
        super().__init__("email_normalized", **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        template = "SUBSTR(%(expressions)s, 1, INSTR(%(expressions)s || '@', '@') - 1)"
        return self.as_sql(compiler, connection, template=template, **extra_context)


@dataclass(frozen=True)
class CustomerSearch:
    # The condition on customers that the term names; None when nothing can match.
    where: Q | None
    # What the agent should know about how the term was read ("" when nothing to say).
    notice: str = ""


def customer_search(term: str) -> CustomerSearch:
    """The customers ``term`` names, read every way it can be (see the module's docstring).
    Runs one query (the ids from other tables); the condition it returns reads only the
    customers table, so a list filtered by it, and its count, join nothing more."""
    term = " ".join(term.split())
    if len(term) > MAX_TERM:
        return CustomerSearch(None, f"A search is at most {MAX_TERM} characters; this one has {len(term):,}.")
    if "\x00" in term:
        return CustomerSearch(None, "A search cannot contain a NUL character.")
    ids = _ids_from_other_tables(term)
    if term.isascii() and term.isdigit() and not term.startswith("0") and len(term) < 19:
        ids.append(int(term))  # the CRM id
    where = Q(pk__in=ids)
    for condition in _partial(term):
        where |= condition
    return CustomerSearch(where, _notice(term))


def _notice(term: str) -> str:
    """Why a term that looks like part of a name or email was looked up whole only."""
    local, at, _ = term.partition("@")
    if at and _partial_length(local) < MIN_PARTIAL:
        return (
            f"Part of an email is looked up by what comes before the “@”, from {MIN_PARTIAL} letters "
            f"or digits: “{term}” was looked up as a whole address."
        )
    if _partial_length(term) < MIN_PARTIAL and any(c.isalpha() for c in term):
        return (
            f"Names and emails match in part from {MIN_PARTIAL} letters or digits: "
            f"“{term}” was looked up as a whole id only."
        )
    return ""


def _ids_from_other_tables(term: str) -> list[int]:
    """The customers of a shop's customer id and of an order number (with or without "#"):
    a few at most, as both are unique per shop."""
    # shop_id IN (every shop): one probe per shop of the (shop, external_id) unique index,
    # where external_id alone would read the whole index.
    shops = Shop.objects.order_by().values("pk")
    ways = CustomerIdentity.objects.filter(shop_id__in=shops, external_id=term).order_by().values_list("customer_id")
    number = term.removeprefix(ORDER_NUMBER_SIGN)
    if number:
        # In any case ("d15594" finds "D15594"): UPPER(external_id) = UPPER(…), the
        # expression of the index order_external_id_upper_idx.
        orders = Order.objects.filter(Q(external_id__iexact=number) | Q(external_id__iexact=ORDER_NUMBER_SIGN + number))
        ways = ways.union(orders.order_by().values_list("customer_id"))
    return [customer_id for (customer_id,) in ways[:MAX_IDS]]


def _partial(term: str) -> list[Q]:
    """Phones ending with the term's digits, emails and names containing it."""
    conditions = []
    digits = phone_digits(term)
    if digits.isascii() and digits.isdigit() and len(digits) >= MIN_PHONE_DIGITS:
        # Read backwards, the end of a number is a prefix: one range of the B-tree index
        # customer_phone_reversed_idx, where trigrams of digits (a thousand of them in all)
        # each list a hundredth of the table. A few whole numbers are probes of that index.
        phone = phone_match(digits)
        conditions.append(Q(StartsWith(Reverse("phone_digits"), phone.tail[::-1])))
        if phone.whole:
            conditions.append(Q(In(Reverse("phone_digits"), [number[::-1] for number in phone.whole])))
    lowered = term.lower()
    if "@" in lowered:
        conditions.append(Q(email_normalized=lowered))  # the unique index
    if _partial_length(term) < MIN_PARTIAL:
        return conditions
    if " " not in lowered:
        conditions.append(_email_contains(lowered))
    if "@" not in lowered and any(c.isalpha() for c in lowered):
        conditions.append(_name_contains(lowered))
    return conditions


def _email_contains(lowered: str) -> Q:
    """Emails containing the term, found by the part before the "@": "dan.rossi" within
    it, "rossi@" at its end, "rossi@gmail" at its end and then the rest in the address. A
    term with nothing before its "@" ("@gmail.com") matches whole addresses only."""
    local, at, _ = lowered.partition("@")
    if _partial_length(local) < MIN_PARTIAL:
        return Q()
    pattern = EndsWith(EmailLocalPart(), local) if at else Contains(EmailLocalPart(), local)
    return Q(pattern, email_normalized__contains=lowered) if at else Q(pattern)


def _name_contains(lowered: str) -> Q:
    """Every word in the name, in any order ("rossi dan" finds Dan Rossi). With only short
    words ("al li") the whole phrase instead: a word under three characters gives the
    trigram index nothing to look up on its own."""
    words = list(dict.fromkeys(lowered.split()))  # once each: PostgreSQL reads a repeat as rarer
    if all(len(word) < MIN_PARTIAL for word in words):
        words = [lowered]
    # The word goes through the same folding in the database as the names ("muller" and
    # "müller" both find Müller); a constant, so PostgreSQL folds it once, before the index.
    return Q(*(Contains(SearchName(), accents.Unaccented(Value(word))) for word in words))


def _partial_length(term: str) -> int:
    return sum(c.isalnum() for c in term)
