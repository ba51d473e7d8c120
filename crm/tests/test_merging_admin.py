"""The merge pages in the admin, for each role: the customers list's action, the preview
(its query count pinned), the merge, the log's Undo, and the suggested duplicates (their
build in crm/tests/test_duplicate_suggestions.py)."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from crm.merging.services import customers_merge
from crm.merging.suggestions import suggestions_build
from crm.roles import MANAGER, MARKETER, SUPPORT_AGENT
from crm.tests.merge_data import two_records
from customers.models import Customer, CustomerMerge, Order
from customers.tests.factories import CustomerFactory, OrderFactory, ShopFactory
from loyalty.tests.conftest import programme  # noqa: F401 (a fixture shared with loyalty)

pytestmark = pytest.mark.django_db
MERGE = reverse("admin:customers_customermerge_merge")
SUGGESTIONS = reverse("admin:customers_customermerge_suggestions")
CUSTOMERS = reverse("admin:customers_customer_changelist")


def signed_in(django_user_model, role) -> Client:
    user = django_user_model.objects.create_user(role.lower().replace(" ", "_"), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", [SUPPORT_AGENT, MANAGER])
def test_an_agent_or_a_manager_previews_merges_and_undoes(django_user_model, role, programme):  # noqa: F811
    pair = two_records()
    client = signed_in(django_user_model, role)
    response = client.post(
        CUSTOMERS, {"action": "merge_duplicates", "_selected_action": [pair.survivor.pk, pair.duplicate.pk]}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{MERGE}?survivor={pair.survivor.pk}&merged={pair.duplicate.pk}"

    page = client.get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert '<th>orders</th><td class="num">2</td>' in text
    assert f"Merge #{pair.duplicate.pk} into #{pair.survivor.pk}" in text
    assert Order.objects.filter(customer=pair.duplicate).count() == 2  # a preview writes nothing

    done = client.post(MERGE, {"survivor": pair.survivor.pk, "merged": pair.duplicate.pk})
    log = CustomerMerge.objects.get()
    assert done.status_code == 302
    assert done["Location"] == reverse("admin:customers_customermerge_change", args=[log.pk])
    assert Order.objects.filter(customer=pair.survivor).count() == 3
    listed = client.get(reverse("admin:customers_customermerge_changelist"))
    assert listed.status_code == 200 and f"#{pair.duplicate.pk} Jane Doe" in listed.content.decode()
    detail = client.get(done["Location"]).content.decode()
    assert "Undo this merge" in detail and "until new activity makes it unsafe" in detail

    undone = client.post(reverse("admin:customers_customermerge_undo", args=[log.pk]))
    assert undone.status_code == 302
    assert Order.objects.filter(customer=pair.duplicate).count() == 2
    assert "Undone" in client.get(done["Location"]).content.decode()


def test_the_log_page_says_why_a_merge_can_no_longer_be_undone(django_user_model, programme):  # noqa: F811
    pair = two_records(with_points=False)
    log = customers_merge(survivor_id=pair.survivor.pk, merged_id=pair.duplicate.pk)
    OrderFactory(customer=pair.survivor, shop=pair.us)
    client = signed_in(django_user_model, SUPPORT_AGENT)
    page = client.get(reverse("admin:customers_customermerge_change", args=[log.pk])).content.decode()
    assert "It cannot be undone now: 1 new orders since the merge." in page
    assert "Undo this merge" not in page
    response = client.post(reverse("admin:customers_customermerge_undo", args=[log.pk]), follow=True)
    assert "This merge cannot be undone: 1 new orders since the merge." in response.content.decode()
    assert Order.objects.filter(customer=pair.duplicate).count() == 0


def test_a_marketer_may_not_merge_undo_or_see_suggestions(django_user_model):
    a, b = CustomerFactory(), CustomerFactory()
    client = signed_in(django_user_model, MARKETER)
    # The action is not offered, and posting it does nothing.
    page = client.get(CUSTOMERS)
    assert "merge_duplicates" not in page.content.decode()
    client.post(CUSTOMERS, {"action": "merge_duplicates", "_selected_action": [a.pk, b.pk]})
    assert client.get(f"{MERGE}?survivor={a.pk}&merged={b.pk}").status_code == 403
    assert client.post(MERGE, {"survivor": a.pk, "merged": b.pk}).status_code == 403
    assert client.get(SUGGESTIONS).status_code == 403
    assert CustomerMerge.objects.count() == 0
    log = customers_merge(survivor_id=a.pk, merged_id=b.pk)
    assert client.post(reverse("admin:customers_customermerge_undo", args=[log.pk])).status_code == 403
    assert client.get(reverse("admin:customers_customermerge_change", args=[log.pk])).status_code == 403
    log.refresh_from_db()
    assert log.undone_at is None


def test_the_action_needs_exactly_two_customers(django_user_model):
    a = CustomerFactory()
    client = signed_in(django_user_model, SUPPORT_AGENT)
    response = client.post(CUSTOMERS, {"action": "merge_duplicates", "_selected_action": [a.pk]}, follow=True)
    assert "Select exactly two customers" in response.content.decode()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"survivor": "abc", "merged": "2"}, "survivor"),
        ({"survivor": "1", "merged": "1e5"}, "merged"),
        ({"survivor": "1", "merged": str(2**64)}, "merged"),
        ({"survivor": "5", "merged": "5"}, "merged"),
        ({"survivor": "999998", "merged": "999999"}, "merged"),
    ],
)
def test_bad_ids_are_a_400_naming_the_field(django_user_model, data, field):
    client = signed_in(django_user_model, MANAGER)
    for response in (client.get(MERGE, data), client.post(MERGE, data)):
        assert response.status_code == 400
        assert response.context["form"].errors[field]
    assert CustomerMerge.objects.count() == 0


def test_the_preview_page_reads_a_fixed_number_of_queries(django_user_model, django_assert_num_queries, programme):  # noqa: F811
    pair = two_records()
    client = signed_in(django_user_model, SUPPORT_AGENT)
    url = f"{MERGE}?survivor={pair.survivor.pk}&merged={pair.duplicate.pk}"
    client.get(url)  # warm: the session's user and the sidebar's permissions
    # session, user, the role's permissions (2), customers, counts per kind, points accounts.
    with django_assert_num_queries(7):
        assert client.get(url).status_code == 200
    for n in range(3):  # more rows change no query
        OrderFactory(customer=pair.duplicate, shop=pair.eu, total=Decimal(10 + n))
    with django_assert_num_queries(7):
        client.get(url)


def test_suggested_duplicates_pair_same_phones_and_same_name_and_address_across_shops(django_user_model):
    eu, us = ShopFactory(slug="eu"), ShopFactory(slug="us")
    phone_a = CustomerFactory(first_name="Lee", last_name="Park", phone="+44 20 7946 0018")
    phone_b = CustomerFactory(first_name="L.", last_name="Park", phone="0044 (20) 7946-0018")
    renee = CustomerFactory(first_name="Renée", last_name="Müller")
    rene = CustomerFactory(first_name="Renee", last_name="MULLER")
    stranger = CustomerFactory(first_name="Tom", last_name="Müller")
    for customer, shop in ((renee, eu), (rene, us), (stranger, us)):
        OrderFactory(customer=customer, shop=shop, shipping_address_key="k" * 64)
    CustomerFactory(phone="12")  # too short to say anything
    CustomerFactory(phone="12")
    suggestions_build()
    client = signed_in(django_user_model, SUPPORT_AGENT)

    page = client.get(SUGGESTIONS)
    assert page.status_code == 200
    pairs = [(s.first, s.second, s.reasons) for s in page.context["result"].suggestions]
    assert pairs == [(renee, rene, "same name and address"), (phone_a, phone_b, "same phone")]
    assert "Preview the merge" in page.content.decode()

    found = client.get(SUGGESTIONS, {"q": "Park"}).context["result"].suggestions
    assert [(s.first, s.second) for s in found] == [(phone_a, phone_b)]

    customers_merge(survivor_id=renee.pk, merged_id=rene.pk)  # since the build: left out when read
    after = client.get(SUGGESTIONS).context["result"].suggestions
    assert [(s.first, s.second) for s in after] == [(phone_a, phone_b)]
    assert client.get(SUGGESTIONS, {"page": "0"}).status_code == 400


def test_suggestions_are_paginated(django_user_model, django_assert_num_queries):
    for n in range(30):
        CustomerFactory.create_batch(2, phone=f"+1 555 {n:07d}")
    suggestions_build()
    client = signed_in(django_user_model, MANAGER)
    first = client.get(SUGGESTIONS).context["result"]
    assert len(first.suggestions) == 25 and first.has_next
    second = client.get(SUGGESTIONS, {"page": 2}).context["result"]
    assert len(second.suggestions) == 5 and not second.has_next
    assert {s.first.pk for s in first.suggestions}.isdisjoint({s.first.pk for s in second.suggestions})
    assert Customer.objects.count() == 60


def test_the_duplicates_360_page_says_where_it_was_merged(django_user_model):
    a, b = CustomerFactory(), CustomerFactory()
    customers_merge(survivor_id=a.pk, merged_id=b.pk)
    client = signed_in(django_user_model, SUPPORT_AGENT)
    page = client.get(reverse("admin:crm_customer360_change", args=[b.pk])).content.decode()
    assert (
        f'This record was merged into\n      <a href="{reverse("admin:crm_customer360_change", args=[a.pk])}">' in page
    )
    assert "merged into" not in client.get(reverse("admin:crm_customer360_change", args=[a.pk])).content.decode()


def test_undo_of_an_unknown_merge_is_a_404_and_only_a_post_undoes(django_user_model):
    client = signed_in(django_user_model, MANAGER)
    assert client.post(reverse("admin:customers_customermerge_undo", args=[999999])).status_code == 404
    a, b = CustomerFactory(), CustomerFactory()
    log = customers_merge(survivor_id=a.pk, merged_id=b.pk)
    assert client.get(reverse("admin:customers_customermerge_undo", args=[log.pk])).status_code == 405
    assert client.get(reverse("admin:customers_customermerge_change", args=["x1"])).status_code == 404
    log.refresh_from_db()
    assert log.undone_at is None


def test_the_customer_records_list_can_leave_out_the_merged_away(django_user_model):
    a, b, c = CustomerFactory(), CustomerFactory(), CustomerFactory()
    customers_merge(survivor_id=a.pk, merged_id=b.pk)
    client = signed_in(django_user_model, SUPPORT_AGENT)

    def listed(value):
        page = client.get(CUSTOMERS, {"merged": value})
        assert page.status_code == 200
        return {row.pk for row in page.context["cl"].result_list}

    assert listed("no") == {a.pk, c.pk}
    assert listed("yes") == {b.pk}
