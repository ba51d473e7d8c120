"""Suggested duplicates as a built list (crm.merging.suggestions, docs/merge.md): the build
finds the pairs by phone and by name and address across shops, replaces the list whole,
survives a row of the wrong type and leaves the old list standing when it fails; customers
merged away are never offered; the page says when the list was built, is built in the
background the first time and when the staff ask (not marketers), and reads a fixed number
of queries however many pairs there are."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.merging import suggestions
from crm.merging.models import DuplicateSuggestion, SuggestionBuild
from crm.merging.services import customers_merge, customers_merge_undo
from crm.merging.suggestions import duplicate_suggestions, suggestions_build
from crm.roles import MANAGER, MARKETER, SUPPORT_AGENT
from crm.scheduler import beat_entries, run_entry
from customers.models import Customer
from customers.tests.factories import CustomerFactory, OrderFactory, ShopFactory

pytestmark = pytest.mark.django_db
SUGGESTIONS = reverse("admin:customers_customermerge_suggestions")
REBUILD = reverse("admin:customers_customermerge_suggestions_rebuild")
ADDRESS = "k" * 64


def signed_in(django_user_model, role) -> Client:
    user = django_user_model.objects.create_user(role.lower().replace(" ", "_"), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


def built() -> set[tuple[int, int, bool, bool]]:
    return set(DuplicateSuggestion.objects.values_list("first_id", "second_id", "same_phone", "same_address"))


def people():
    """Two phone pairs (one of them also the same name at one address in two shops), a name
    and address pair, and near misses: another first initial, one shop only, a short phone."""
    eu, us = ShopFactory(slug="eu"), ShopFactory(slug="us")
    lee = CustomerFactory(first_name="Lee", last_name="Park", phone="+44 20 7946 0018")
    lee_again = CustomerFactory(first_name="L.", last_name="Park", phone="0044 (20) 7946-0018")
    renee = CustomerFactory(first_name="Renée", last_name="Müller", phone="")
    rene = CustomerFactory(first_name="Renee", last_name="MULLER", phone="")
    tom = CustomerFactory(first_name="Tom", last_name="Müller", phone="")  # another initial
    for customer, shop in ((renee, eu), (rene, us), (tom, us), (lee, eu), (lee_again, us)):
        OrderFactory(customer=customer, shop=shop, shipping_address_key=ADDRESS)
    ann = CustomerFactory(first_name="Ann", last_name="Lee", phone="+1 555 0100 200")
    ann_again = CustomerFactory(first_name="Anne", last_name="Leigh", phone="1-555-0100-200")
    # One shop only: the same address in one shop is a household, not a duplicate.
    sam, sam_too = (
        CustomerFactory(first_name="Sam", last_name="Ode", phone=""),
        CustomerFactory(first_name="Sam", last_name="Ode", phone=""),
    )
    for customer in (sam, sam_too):
        OrderFactory(customer=customer, shop=eu, shipping_address_key="s" * 64)
    CustomerFactory.create_batch(2, phone="12")  # too short to say anything
    return {"lee": (lee, lee_again), "renee": (renee, rene), "ann": (ann, ann_again)}


def test_the_build_finds_phone_pairs_and_name_and_address_pairs_and_replaces_the_list():
    pairs = people()
    (lee, lee_again), (renee, rene), (ann, ann_again) = pairs["lee"], pairs["renee"], pairs["ann"]

    build = suggestions_build()

    assert built() == {
        (lee.pk, lee_again.pk, True, True),
        (renee.pk, rene.pk, False, True),
        (ann.pk, ann_again.pk, True, False),
    }
    assert build.pairs == 3 and build.built_at is not None and build.took is not None
    page = duplicate_suggestions()
    assert [(s.first, s.second, s.reasons) for s in page.suggestions] == [
        (ann, ann_again, "same phone"),  # newest first: by the newer record
        (renee, rene, "same name and address"),
        (lee, lee_again, "same phone, same name and address"),
    ]

    # A rebuild is the customers as they are now: a changed phone drops its pair.
    Customer.objects.filter(pk=ann_again.pk).update(phone="+1 555 0199 999")
    rebuilt = suggestions_build()
    assert built() == {(lee.pk, lee_again.pk, True, True), (renee.pk, rene.pk, False, True)}
    assert rebuilt.pairs == 2 and rebuilt.built_at >= build.built_at


def test_customers_merged_away_are_not_offered_before_or_after_the_build():
    pairs = people()
    (lee, lee_again), (renee, rene), (ann, ann_again) = pairs["lee"], pairs["renee"], pairs["ann"]
    customers_merge(survivor_id=lee.pk, merged_id=lee_again.pk)  # before the build: not built
    suggestions_build()
    assert {(a, b) for a, b, *_ in built()} == {(renee.pk, rene.pk), (ann.pk, ann_again.pk)}

    log = customers_merge(survivor_id=ann.pk, merged_id=ann_again.pk)  # since the build: hidden
    assert [(s.first, s.second) for s in duplicate_suggestions().suggestions] == [(renee, rene)]
    assert [s.first for s in duplicate_suggestions(term="Ann").suggestions] == []

    customers_merge_undo(merge_id=log.pk)  # undone: offered again, without waiting for a build
    assert [(s.first, s.second) for s in duplicate_suggestions().suggestions] == [(ann, ann_again), (renee, rene)]


def test_a_name_stored_as_bytes_does_not_stop_the_build():
    """SQLite keeps bytes written into a text column as they are (a BLOB, written around
    the app); the name's folding must not fail the whole build on it. PostgreSQL's column
    holds text only: there the same name is written as text."""
    pairs = people()
    odd, odd_too = CustomerFactory(first_name="X", phone=""), CustomerFactory(first_name="X", phone="")
    eu, us = ShopFactory(slug="odd-eu"), ShopFactory(slug="odd-us")
    OrderFactory(customer=odd, shop=eu, shipping_address_key="o" * 64)
    OrderFactory(customer=odd_too, shop=us, shipping_address_key="o" * 64)
    table = Customer._meta.db_table
    name = "Øde".encode() if connection.vendor == "sqlite" else "Øde"
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET last_name = %s WHERE id IN (%s, %s)", [name, odd.pk, odd_too.pk])

    suggestions_build()

    expected = {tuple(p.pk for p in pair) for pair in pairs.values()} | {(odd.pk, odd_too.pk)}
    assert {(a, b) for a, b, *_ in built()} == expected


def test_a_build_that_fails_leaves_the_old_list_whole(monkeypatch):
    pairs = people()
    suggestions_build()
    before, built_at = built(), SuggestionBuild.objects.get().built_at

    def fails(first_id, last_id):
        raise RuntimeError("the database went away half-way")

    monkeypatch.setattr(suggestions, "_insert_pairs", fails)
    with pytest.raises(RuntimeError):
        suggestions_build()
    assert built() == before and len(before) == len(pairs)
    assert SuggestionBuild.objects.get().built_at == built_at


def test_the_page_says_when_the_list_was_built(django_user_model):
    people()
    suggestions_build()
    SuggestionBuild.objects.update(built_at=timezone.now().replace(year=2026, month=3, day=2, hour=3, minute=45))
    client = signed_in(django_user_model, SUPPORT_AGENT)
    text = client.get(SUGGESTIONS).content.decode()
    assert "List built 2 Mar 2026, 03:45 UTC (3 pairs)." in text
    assert "Rebuild the list now" in text


def test_a_list_never_built_is_built_in_the_background_on_the_first_view(
    django_user_model, django_capture_on_commit_callbacks
):
    pairs = people()
    client = signed_in(django_user_model, SUPPORT_AGENT)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        first = client.get(SUGGESTIONS)
    assert first.status_code == 200 and len(queued) == 1
    assert "The list has not been built yet: it is being built now." in first.content.decode()
    assert first.context["result"].suggestions == []

    page = client.get(SUGGESTIONS)
    assert {(s.first.pk, s.second.pk) for s in page.context["result"].suggestions} == {
        tuple(p.pk for p in pair) for pair in pairs.values()
    }
    assert SuggestionBuild.objects.get().requested_at is None  # answered by the build


@pytest.mark.parametrize("role", [SUPPORT_AGENT, MANAGER])
def test_an_agent_or_a_manager_rebuilds_the_list_from_the_page(
    django_user_model, role, django_capture_on_commit_callbacks
):
    (lee, lee_again), *_ = people().values()
    suggestions_build()
    newer = CustomerFactory(phone="+44 20 7946 0018")  # a third record of Lee since the build
    client = signed_in(django_user_model, role)
    assert client.get(REBUILD).status_code == 405

    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = client.post(REBUILD)
    assert response.status_code == 302 and response["Location"] == SUGGESTIONS and len(queued) == 1
    assert "being rebuilt in the background" in str(list(get_messages(response.wsgi_request))[0])
    assert {(lee.pk, newer.pk), (lee_again.pk, newer.pk)} <= {(a, b) for a, b, *_ in built()}
    assert SuggestionBuild.objects.get().requested_at is None


def test_a_rebuild_asked_for_and_not_done_yet_is_shown(django_user_model):
    people()
    suggestions_build()
    SuggestionBuild.objects.update(requested_at=timezone.now() + timedelta(seconds=1))
    client = signed_in(django_user_model, SUPPORT_AGENT)
    assert "A rebuild was asked for at" in client.get(SUGGESTIONS).content.decode()


def test_a_marketer_may_not_rebuild_the_list(django_user_model, django_capture_on_commit_callbacks):
    people()
    client = signed_in(django_user_model, MARKETER)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert client.post(REBUILD).status_code == 403
        assert client.get(SUGGESTIONS).status_code == 403
    assert queued == [] and not SuggestionBuild.objects.exists() and not DuplicateSuggestion.objects.exists()


def test_a_page_reads_a_fixed_number_of_queries(django_user_model, django_assert_num_queries):
    for n in range(5):
        CustomerFactory.create_batch(2, phone=f"+1 555 {n:07d}")
    suggestions_build()
    client = signed_in(django_user_model, SUPPORT_AGENT)
    client.get(SUGGESTIONS)  # warm: the session's user and the sidebar's permissions
    # session, user, the role's permissions (2), the build row, the page with its customers.
    with django_assert_num_queries(6):
        assert len(client.get(SUGGESTIONS).context["result"].suggestions) == 5
    for n in range(5, 60):  # more pairs, a second page: no more queries
        CustomerFactory.create_batch(2, phone=f"+1 555 {n:07d}")
    suggestions_build()
    with django_assert_num_queries(6):
        page = client.get(SUGGESTIONS, {"page": 2}).context["result"]
    assert len(page.suggestions) == 25 and page.has_next
    # A search adds the search's own lookup (ids from other tables: orders, shops' ids).
    with django_assert_num_queries(7):
        client.get(SUGGESTIONS, {"q": "555 0000007"})


def test_the_scheduler_builds_the_list(db):
    """The demo's in-process scheduler runs the nightly entry (at once on a first start)."""
    pairs = people()
    entry = next(e for e in beat_entries() if e.name == "build-duplicate-suggestions")
    assert run_entry(entry).last_status == "ok"
    assert {(a, b) for a, b, *_ in built()} == {tuple(p.pk for p in pair) for pair in pairs.values()}
