"""The admin: every model is there, big changelists keep a fixed query count, keys show once."""

import re

import pytest
from django.contrib import admin
from django.urls import reverse

from customers.models import ApiKey, Customer, Order
from customers.services.api_keys import api_key_authenticate
from customers.tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ShopFactory
from tests.page_text import text_of

pytestmark = pytest.mark.django_db


def test_every_model_of_the_app_is_registered():
    from django.apps import apps

    for model in apps.get_app_config("customers").get_models():
        if model._meta.auto_created:
            continue
        assert admin.site.is_registered(model), model


# The customers list reads the lifecycle settings too, for what its columns mean.
@pytest.mark.parametrize(("model", "queries"), [(Customer, 10), (Order, 8)])
def test_changelist_query_count_does_not_grow_with_rows(admin_client, model, queries, assert_queries):
    shop = ShopFactory()
    for _ in range(60):
        OrderLineFactory(order=OrderFactory(shop=shop))
    url = reverse(f"admin:customers_{model._meta.model_name}_changelist")

    # On PostgreSQL the paginator reads the table's row estimate first (LargeTablePaginator).
    with assert_queries(sqlite=queries, postgresql=queries + 1):
        response = admin_client.get(url)

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 50


def test_customer_search_finds_by_email_case_insensitively(admin_client):
    CustomerFactory(email="Zed@Example.com", email_normalized="zed@example.com")
    CustomerFactory()

    response = admin_client.get(reverse("admin:customers_customer_changelist"), {"q": "ZED@example.com "})

    assert [c.email for c in response.context["cl"].result_list] == ["Zed@Example.com"]


def test_order_filters_and_detail_page_render(admin_client):
    order = OrderFactory(status="refunded")
    OrderLineFactory(order=order)

    listing = admin_client.get(reverse("admin:customers_order_changelist"), {"status__exact": "refunded"})
    detail = admin_client.get(reverse("admin:customers_order_change", args=[order.pk]))

    assert list(listing.context["cl"].result_list) == [order]
    assert detail.status_code == 200


def test_adding_a_key_in_the_admin_shows_it_once(admin_client):
    shop = ShopFactory()

    response = admin_client.post(
        reverse("admin:customers_apikey_add"), {"shop": shop.pk, "name": "checkout"}, follow=True
    )

    message = next(str(m) for m in response.context["messages"] if "shown only this once" in str(m))
    key = message.rsplit(" ", 1)[1]
    assert api_key_authenticate(key=key).shop == shop
    assert ApiKey.objects.get().name == "checkout"
    page = admin_client.get(reverse("admin:customers_apikey_change", args=[ApiKey.objects.get().pk]))
    assert key not in page.content.decode()


def test_revoke_action_revokes(admin_client):
    from customers.services.api_keys import api_key_create

    issued = api_key_create(shop=ShopFactory())

    admin_client.post(
        reverse("admin:customers_apikey_changelist"),
        {"action": "revoke", "_selected_action": [issued.api_key.pk]},
    )

    assert api_key_authenticate(key=issued.key) is None


def test_customer_search_by_shop_id_phone_or_crm_id(admin_client):
    from customers.tests.factories import IdentityFactory

    identity = IdentityFactory(external_id="shop-77")
    by_phone = CustomerFactory(phone="+4930123")
    url = reverse("admin:customers_customer_changelist")

    def found(term):
        return list(admin_client.get(url, {"q": term}).context["cl"].result_list)

    assert found("shop-77") == [identity.customer]
    assert found("+4930123") == [by_phone]
    assert found(str(by_phone.pk)) == [by_phone]
    assert found("nobody@example.com") == []


def test_order_search_by_external_id_or_customer_email(admin_client):
    order = OrderFactory(external_id="X-1")
    OrderFactory()
    url = reverse("admin:customers_order_changelist")

    assert list(admin_client.get(url, {"q": "X-1"}).context["cl"].result_list) == [order]
    assert list(admin_client.get(url, {"q": "x-1"}).context["cl"].result_list) == [order]  # any case
    assert list(admin_client.get(url, {"q": order.customer.email.upper()}).context["cl"].result_list) == [order]


def test_country_filter_offers_the_countries_present(admin_client):
    CustomerFactory(country="DE")
    CustomerFactory(country="FR")
    CustomerFactory(country="")

    response = admin_client.get(reverse("admin:customers_customer_changelist"), {"country": "FR"})

    choices = [
        c["display"] for spec in response.context["cl"].filter_specs for c in spec.choices(response.context["cl"])
    ]
    assert "DE" in choices and "FR" in choices
    assert [c.country for c in response.context["cl"].result_list] == ["FR"]


def test_deactivating_a_shop_or_deleting_a_key_in_the_admin_stops_its_key_at_once(admin_client):
    from customers.services.api_keys import api_key_create

    first, second = api_key_create(shop=ShopFactory()), api_key_create(shop=ShopFactory())
    assert api_key_authenticate(key=first.key) and api_key_authenticate(key=second.key)  # both now cached
    shop = first.api_key.shop

    admin_client.post(
        reverse("admin:customers_shop_change", args=[shop.pk]),
        {
            "slug": shop.slug,
            "name": shop.name,
            "api_keys-TOTAL_FORMS": 1,
            "api_keys-INITIAL_FORMS": 1,
            "api_keys-0-id": first.api_key.pk,
            "api_keys-0-shop": shop.pk,
        },
    )
    admin_client.post(reverse("admin:customers_apikey_delete", args=[second.api_key.pk]), {"post": "yes"})

    shop.refresh_from_db()
    assert shop.is_active is False
    assert api_key_authenticate(key=first.key) is None
    assert api_key_authenticate(key=second.key) is None


def test_an_order_deleted_in_the_admin_brings_its_customer_up_to_date_at_the_next_drain(admin_client):
    from crm.follow_up import pending_updates_drain
    from customers.models import PendingUpdate
    from customers.services.recompute import customers_recompute

    ann = CustomerFactory()
    keep, gone = OrderFactory(customer=ann), OrderFactory(customer=ann)
    customers_recompute(customer_ids=[ann.pk])
    assert Customer.objects.get(pk=ann.pk).orders_count == 2

    response = admin_client.post(reverse("admin:customers_order_delete", args=[gone.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert list(PendingUpdate.objects.values_list("customer_id", flat=True)) == [ann.pk]
    pending_updates_drain()
    assert Customer.objects.get(pk=ann.pk).orders_count == 1 and Order.objects.get() == keep


@pytest.fixture
def many_orders():
    """10,060 paid orders and 3 refunded ones: more than the changelist counts."""
    shop, customer = ShopFactory(), CustomerFactory()
    template = OrderFactory.build(shop=shop, customer=customer)
    fields = {f.attname: getattr(template, f.attname) for f in Order._meta.concrete_fields if not f.primary_key}
    rows = [Order(**{**fields, "external_id": f"bulk-{i}"}) for i in range(10_060)]
    rows += [Order(**{**fields, "external_id": f"refunded-{i}", "status": "refunded"}) for i in range(3)]
    Order.objects.bulk_create(rows, batch_size=2000)


def test_a_capped_count_reads_more_than_10000_and_shows_no_page_count(admin_client, many_orders):
    url = reverse("admin:customers_order_changelist")

    listing = admin_client.get(url, {"status__exact": "paid"})

    assert text_of(listing, ".large-table-count") == "- more than 10,000 orders"
    assert "10001" not in listing.content.decode() and "10,001" not in listing.content.decode()
    pages = [int(p) for p in re.findall(r'href="\?p=(\d+)&amp;status__exact=paid"', listing.content.decode())]
    assert pages == [2, 3, 4]  # the neighbours of page 1, then "…": no last page (201 was shown before)
    assert "Select all more than 10,000 orders" in text_of(listing, ".actions")
    # Pages past the count are there to read, not refused: page 202 holds the last 10, and
    # being short, it is known to be the last.
    page_201 = admin_client.get(url, {"status__exact": "paid", "p": 201})
    assert list(page_201.context["cl"].paginator.get_elided_page_range(201)) == [
        1,
        2,
        "…",
        198,
        199,
        200,
        201,
        202,
        "…",
    ]
    page_202 = admin_client.get(url, {"status__exact": "paid", "p": 202})
    assert len(page_202.context["cl"].result_list) == 10
    assert list(page_202.context["cl"].paginator.get_elided_page_range(202)) == [1, 2, "…", 199, 200, 201, 202]


def test_an_exact_count_reads_as_a_number_of_orders(admin_client, many_orders):
    listing = admin_client.get(reverse("admin:customers_order_changelist"), {"status__exact": "refunded"})
    assert text_of(listing, ".large-table-count") == "3 orders"


@pytest.mark.postgres
def test_an_unfiltered_list_on_postgresql_reads_the_estimate_as_about(admin_client, many_orders):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_order")
    listing = admin_client.get(reverse("admin:customers_order_changelist"))
    assert text_of(listing, ".large-table-count") == "- about 10,100 orders"
