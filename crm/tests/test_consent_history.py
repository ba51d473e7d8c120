"""Marketing consent's history: the API's marketing_consent (on a customer or an order's
customer) records a consent event only when the shop's value changes; managers and
marketers read the history in the admin, and cannot change it."""

import pytest

from customers.models import ConsentEvent, CustomerIdentity

pytestmark = pytest.mark.django_db


def history():
    return list(ConsentEvent.objects.order_by("id").values_list("given", "source"))


def post_customer(api, **values):
    body = {"external_id": "c-1", "email": "ann@example.com", **values}
    response = api.post("/api/v1/customers", body, format="json")
    assert response.status_code in (200, 201), response.content


def test_an_event_is_recorded_only_when_the_shops_value_changes(api, shop):
    post_customer(api)  # no consent said: nothing
    post_customer(api, marketing_consent=True)
    post_customer(api, marketing_consent=True)  # the same again
    post_customer(api, first_name="Ann")  # consent not said: unchanged
    post_customer(api, marketing_consent=False)
    post_customer(api, marketing_consent=False)

    assert history() == [(True, "api"), (False, "api")]
    identity = CustomerIdentity.objects.get(shop=shop, external_id="c-1")
    [given, withdrawn] = ConsentEvent.objects.order_by("id")
    assert (given.customer_id, given.shop_id) == (identity.customer_id, shop.pk)
    assert identity.marketing_consent is False and identity.marketing_consent_at == withdrawn.at


def test_a_first_no_is_not_a_withdrawal(api):
    post_customer(api, marketing_consent=False)

    assert history() == []


def test_consent_sent_with_an_order_is_recorded_as_given_at_checkout(api, order_payload):
    order_payload["customer"]["marketing_consent"] = True
    assert api.post("/api/v1/orders", order_payload, format="json").status_code == 201
    order_payload["external_id"] = "1002"
    assert api.post("/api/v1/orders", order_payload, format="json").status_code == 201

    assert history() == [(True, "checkout")]


def test_the_history_is_read_only_in_the_admin_for_marketers_and_managers(api, client, login):
    post_customer(api, marketing_consent=True)
    event = ConsentEvent.objects.get()

    for role in ("Marketer", "Manager"):
        login(role)
        listing = client.get("/admin/customers/consentevent/")
        assert listing.status_code == 200 and "ann@example.com" in listing.text
        page = client.get(f"/admin/customers/consentevent/{event.pk}/change/")
        assert page.status_code == 200 and 'name="_save"' not in page.text
        assert client.get("/admin/customers/consentevent/add/").status_code == 403
        client.post(f"/admin/customers/consentevent/{event.pk}/delete/", {"post": "yes"})
        assert ConsentEvent.objects.filter(pk=event.pk).exists()
    login("Support agent")
    assert client.get("/admin/customers/consentevent/").status_code == 403
