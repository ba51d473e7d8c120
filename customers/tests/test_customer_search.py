"""Staff search for a customer (issue 19): by a name or part of it, part of an email, a phone
number written any way, an order number, a shop's customer id and the CRM id, in the
customers list, the 360 list and every customer picker (the admin's autocomplete)."""

import random

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse
from django.utils.html import escape

from customers.models import Customer, Order
from customers.phones import PHONE_PUNCTUATION, phone_digits
from customers.search import MAX_TERM, SEARCH_HELP, SEARCH_HINT
from customers.services.customers import CustomerData, customer_upsert
from customers.tests.factories import CustomerFactory, IdentityFactory, OrderFactory, ShopFactory

pytestmark = pytest.mark.django_db

CUSTOMERS = reverse("admin:customers_customer_changelist")


@pytest.fixture
def people():
    """Three customers whose names, emails and numbers overlap just enough to be told apart."""
    shop = ShopFactory()
    dan = CustomerFactory(first_name="Dan", last_name="Rossi", email="Dan.Rossi@Example.com", phone="+39 06 1234-5678")
    daniela = CustomerFactory(
        first_name="Daniela", last_name="Rossetti", email="daniela.r@example.org", phone="(212) 555-0199"
    )
    ann = CustomerFactory(first_name="Ann", last_name="Lee", email="ann.lee@shop.test", phone="0044 20 7946 0958")
    IdentityFactory(shop=shop, customer=dan, external_id="shopify-991")
    OrderFactory(shop=shop, customer=ann, external_id="100200300")
    OrderFactory(shop=shop, customer=daniela, external_id="#100200301")
    OrderFactory(shop=shop, customer=dan, external_id="D15594")
    OrderFactory(shop=shop, customer=ann, external_id="#SO-7731")
    return {"dan": dan, "daniela": daniela, "ann": ann}


def found(client, term, url=CUSTOMERS) -> list[Customer]:
    response = client.get(url, {"q": term})
    assert response.status_code == 200, (term, response.status_code)
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        # names: first, last, "first last", either order, any case, in part
        ("Rossi", ["dan"]),
        ("Ross", ["daniela", "dan"]),
        ("dan rossi", ["dan"]),
        ("ROSSI  DAN", ["dan"]),
        ("Dan", ["daniela", "dan"]),
        ("daniela ross", ["daniela"]),
        ("Lee", ["ann"]),
        # emails: whole (any case), in part, the end of the part before "@"
        ("dan.rossi@example.com", ["dan"]),
        ("DAN.ROSSI@EXAMPLE.COM ", ["dan"]),
        ("dan.rossi", ["dan"]),
        ("rossi@", ["dan"]),
        ("rossi@exa", ["dan"]),
        ("rossi@example.org", []),
        ("ela.r", ["daniela"]),
        # phones: however written, with or without the international prefix, or their end
        ("+39 06 1234 5678", ["dan"]),
        ("0039-06-12345678", ["dan"]),
        ("06 1234 5678", ["dan"]),
        ("(06) 12.34.56.78", ["dan"]),
        ("345678", ["dan"]),
        ("555-0199", ["daniela"]),
        ("+44 20 7946 0958", ["ann"]),
        ("020 7946 0958", ["ann"]),  # the national 0 for the stored +44
        ("7946 0958", ["ann"]),  # the end, under nine digits: as typed
        ("0 7946 0958", ["ann"]),
        ("5678", []),  # under six digits: not a phone search
        # a shop's order number, with or without "#", however the shop stored it
        ("100200300", ["ann"]),
        ("#100200300", ["ann"]),
        ("100200301", ["daniela"]),
        # in any case: shops print their numbers in capitals, callers spell them as they come
        ("D15594", ["dan"]),
        ("d15594", ["dan"]),
        ("#d15594", ["dan"]),
        ("so-7731", ["ann"]),
        ("#So-7731", ["ann"]),
        ("d1559", []),
        # a shop's customer id, whole
        ("shopify-991", ["dan"]),
        ("shopify-99", []),
    ],
)
def test_each_way_of_naming_a_customer_finds_them_and_no_one_else(admin_client, people, term, expected):
    assert found(admin_client, term) == [people[name] for name in expected]


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        # North America: the country code 1 on one side only, each way
        ("450.895.0550", "+1 450 895 0550"),
        ("450.895.0550", "14508950550"),
        ("450.895.0550", "1-450-895-0550"),
        ("+1 450 895 0550", "450.895.0550"),
        ("1 (450) 895-0550", "450 895 0550"),
        # Germany: +49 or 0049 for the trunk 0, each way, and a Munich number of 8 digits
        ("+49 30 12345678", "030 12345678"),
        ("030 / 12345678", "+49 30 12345678"),
        ("0049 89 123456", "089 123456"),
        ("089 123456", "+49 (89) 123456"),
        ("089-123456", "0049 89 123456"),
        # United Kingdom: London and a mobile, each way
        ("+44 20 7946 0958", "020 7946 0958"),
        ("020 7946 0958", "+44 20 7946 0958"),
        ("07911 123456", "+44 7911 123456"),
        ("+44 (0) 7911 123456", "07911 123456"),
    ],
)
def test_a_number_is_found_with_or_without_its_country_code_and_trunk_zero(admin_client, stored, typed):
    customer = CustomerFactory(phone=stored)
    # the same digits but one just before the nine compared, or one among them
    CustomerFactory(phone="+7 999 123 45 67")
    CustomerFactory(phone=stored[:-3] + str((int(stored[-3]) + 1) % 10) + stored[-2:])

    assert found(admin_client, typed) == [customer]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("8950550", ["us", "us_national"]),  # seven or eight digits: the end of a number, as before
        ("895 0550", ["us", "us_national"]),
        ("18950550", []),
        ("+1 460 895 0550", []),  # another area code
        ("+44 450 895 0550", ["us", "us_national"]),  # nine digits agree; a caller's country is not checked
        ("+1 450 895 0551", []),
    ],
)
def test_a_number_matches_on_its_last_nine_digits_and_short_ones_on_their_end(admin_client, typed, expected):
    people = {"us": CustomerFactory(phone="+1 450 895 0550"), "us_national": CustomerFactory(phone="450-895-0550")}
    CustomerFactory(phone="0550")  # too short to be the end of anything typed

    assert set(found(admin_client, typed)) == {people[name] for name in expected}


def test_names_with_accents_are_found_in_any_case(admin_client, people):
    jurgen = CustomerFactory(first_name="Jürgen", last_name="Müller", email="jm@example.com")

    assert found(admin_client, "müller") == [jurgen]
    assert found(admin_client, "MÜLLER jürgen") == [jurgen]


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        (("Jürgen", "Müller"), "Muller"),
        (("Jürgen", "Müller"), "jurgen muller"),
        (("JÜRGEN", "MÜLLER"), "müller"),
        (("José", "Gómez"), "jose gomez"),
        (("Jose", "Gomez"), "José Gómez"),  # accents typed, none stored
        (("Zoë", "Dvořák"), "dvorak zoe"),
        (("Søren", "Kierkegaard"), "soren"),
        (("François", "Lefèvre"), "francois lefevre"),
        (("Anna", "Straße"), "strasse"),
        (("Łukasz", "Żółć"), "lukasz zolc"),
    ],
)
def test_names_are_found_without_their_accents(admin_client, stored, typed):
    first_name, last_name = stored
    customer = CustomerFactory(first_name=first_name, last_name=last_name)
    CustomerFactory(first_name="Mila", last_name="Nowak")

    assert found(admin_client, typed) == [customer]


def test_the_crm_id_finds_that_customer_only(admin_client, people):
    ann = people["ann"]

    assert found(admin_client, str(ann.pk)) == [ann]
    assert found(admin_client, f"0{ann.pk}") == []  # not an id as the CRM writes it


def test_the_360_list_searches_the_same_way(admin_client, people):
    url = reverse("admin:crm_customer360_changelist")

    assert [c.pk for c in found(admin_client, "rossi dan", url)] == [people["dan"].pk]
    assert [c.pk for c in found(admin_client, "555 0199", url)] == [people["daniela"].pk]


def test_the_list_says_what_the_search_finds_and_from_how_many_characters(admin_client):
    for url in (CUSTOMERS, reverse("admin:crm_customer360_changelist")):
        page = admin_client.get(url).content.decode()

        assert escape(SEARCH_HELP) in page and f'placeholder="{SEARCH_HINT}"' in page
    assert "at least 3 letters or digits" in SEARCH_HELP and "at least its last 6 digits" in SEARCH_HELP


def test_a_term_too_short_to_match_in_part_matches_whole_ids_and_says_so(admin_client, people):
    IdentityFactory(customer=people["ann"], external_id="Da")

    response = admin_client.get(CUSTOMERS, {"q": "Da"})

    assert list(response.context["cl"].result_list) == [people["ann"]]  # not Dan nor Daniela
    notices = [str(m) for m in get_messages(response.wsgi_request)]
    assert notices == [
        "Names and emails match in part from 3 letters or digits: “Da” was looked up as a whole id only."
    ]


def test_a_domain_alone_matches_whole_addresses_only_and_says_so(admin_client, people):
    response = admin_client.get(CUSTOMERS, {"q": "@example.com"})

    assert list(response.context["cl"].result_list) == []
    assert "looked up by what comes before the “@”" in str(next(iter(get_messages(response.wsgi_request))))


@pytest.mark.parametrize(
    "term", ["%", "%%%", "___", "_an", "d%n", "ro_si", "'", "\"'; DROP TABLE x; --", "\\", "\\%", "a\\_b", "@@@", "---"]
)
def test_like_wildcards_and_quotes_are_plain_characters(admin_client, people, term):
    assert found(admin_client, term) == []


def test_an_underscore_or_percent_in_a_name_is_matched_as_itself(admin_client, people):
    odd = CustomerFactory(first_name="Al_x", last_name="100%", email="odd@example.com")

    assert found(admin_client, "al_x") == [odd]
    assert found(admin_client, "al_x 100%") == [odd]


def test_a_very_long_term_gets_a_page_that_says_why_nothing_matched(admin_client, people):
    response = admin_client.get(CUSTOMERS, {"q": "x" * 10_000})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"A search is at most {MAX_TERM} characters; this one has 10,000."
    ]


@pytest.mark.parametrize("term", ["\x00", "dan\x00", "9" * 10_000, "9" * 25, "٣٤٥٦٧٨٩", "²³⁴⁵⁶⁷"])
def test_hostile_terms_get_a_page_not_an_error(admin_client, people, term):
    for url in (CUSTOMERS, reverse("admin:crm_customer360_changelist")):
        assert admin_client.get(url, {"q": term}).status_code in (200, 400), term


def test_customer_pickers_search_the_same_way_without_leaving_a_message_behind(admin_client, people):
    """Other admins' ``autocomplete_fields = ["customer"]`` (e.g. a ticket's customer) search
    through the customers admin: the admin accepts them, and the picker finds by name."""
    picker = type("OrderPickerAdmin", (admin.ModelAdmin,), {"autocomplete_fields": ["customer"]})
    assert picker(Order, admin.site).check() == []
    url = reverse("admin:autocomplete")
    params = {"app_label": "customers", "model_name": "order", "field_name": "customer"}

    by_name = admin_client.get(url, {**params, "term": "Ross"}).json()
    short = admin_client.get(url, {**params, "term": "Da"})

    assert [r["id"] for r in by_name["results"]] == [str(people["daniela"].pk), str(people["dan"].pk)]
    assert short.json()["results"] == []
    assert list(get_messages(admin_client.get(CUSTOMERS).wsgi_request)) == []


def test_search_results_page_keeps_its_query_budget(admin_client, assert_queries):
    shop = ShopFactory()
    for n in range(60):
        customer = CustomerFactory(first_name="Maria", last_name=f"Rossi{n}", phone=f"+1 212 555 {n:04d}")
        OrderFactory(shop=shop, customer=customer)

    # The changelist's own 10 (session, user, filters, count, page, the lifecycle settings for
    # what the columns mean), and one for the ids the identities and orders give; on
    # PostgreSQL, no row estimate: a search counts, capped.
    with assert_queries(sqlite=11, postgresql=11):
        response = admin_client.get(CUSTOMERS, {"q": "maria ross"})

    assert len(response.context["cl"].result_list) == 50
    assert response.context["cl"].result_count == 60


def test_the_database_stores_the_phone_digits_the_search_compares():
    rng = random.Random(19)
    alphabet = "0123456789" * 3 + "".join(PHONE_PUNCTUATION) + "x"
    phones = [
        "",
        "00",
        "000",
        "+0049 30",
        "0 0 1 2",
        "(00) 12",
        "+",
        *("".join(rng.choices(alphabet, k=rng.randint(1, 32))) for _ in range(300)),
    ]
    Customer.objects.bulk_create([Customer(phone=phone) for phone in phones])

    stored = dict(Customer.objects.values_list("phone", "phone_digits"))

    assert stored == {phone: phone_digits(phone) for phone in phones}


def test_a_number_a_shop_sends_or_changes_is_found_by_its_new_digits_only(admin_client):
    shop = ShopFactory()
    customer_id, _ = customer_upsert(shop=shop, data=CustomerData(external_id="k-1", phone="+49 30 1234567"))
    assert [c.pk for c in found(admin_client, "30 1234567")] == [customer_id]

    customer_upsert(shop=shop, data=CustomerData(external_id="k-1", phone="0049 (40) 7654-321"))

    assert found(admin_client, "30 1234567") == []
    assert [c.pk for c in found(admin_client, "+49 40 7654321")] == [customer_id]


def test_a_number_changed_in_the_admin_is_found_by_its_new_digits(admin_client):
    customer = CustomerFactory(first_name="Eva", last_name="Novak", phone="555 010 101")
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    form = {
        "email": customer.email,
        "first_name": "Eva",
        "last_name": "Novak",
        "phone": "+1 (555) 020-202",
        "identities-TOTAL_FORMS": 0,
        "identities-INITIAL_FORMS": 0,
    }

    assert admin_client.post(url, form).status_code == 302

    assert found(admin_client, "555 010 101") == []
    assert found(admin_client, "555020202") == [customer]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("term", "index"),
    [
        ("rossi", "customer_name_folded_trgm_idx"),
        ("dan rossi", "customer_name_folded_trgm_idx"),
        ("müller", "customer_name_folded_trgm_idx"),
        ("dan.rossi", "customer_email_local_trgm_idx"),
        ("rossi@", "customer_email_local_trgm_idx"),
        ("ann.lee@shop.test", "customers_customer_email_normalized"),
        ("06 1234 5678", "customer_phone_reversed_idx"),
        ("+49 (89) 123456", "customer_phone_reversed_idx"),
        ("12345", "customers_customer_pkey"),
    ],
)
def test_on_postgres_every_way_is_an_index_lookup(people, term, index):
    """The indexes' expressions (migration 0016) and the search's must stay the same, or
    PostgreSQL scans the table: with scans priced out, every way must still find an index."""
    from customers.search import customer_search

    queryset = Customer.objects.filter(customer_search(term).where).order_by().values("pk")
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert index in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.postgres
@pytest.mark.parametrize("term", ["d15594", "#so-7731", "shopify-991"])
def test_on_postgres_the_ids_from_orders_and_identities_are_index_lookups(people, term):
    """The one query for ids through other tables (a shop's customer id, an order number in
    any case) probes indexes only: with scans priced out, no table is read whole."""
    from django.test.utils import CaptureQueriesContext

    from customers.search import customer_search

    with CaptureQueriesContext(connection) as queries:
        customer_search(term)
    (query,) = [q["sql"] for q in queries.captured_queries if "customers_order" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {query}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "order_external_id_upper_idx" in plan and "identity_shop_external_id_uniq" in plan, plan
    assert "Seq Scan" not in plan, plan
