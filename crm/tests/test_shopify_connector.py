"""Shopify's webhooks end to end through HTTP: signed delivery → stored → ingested → the
customer's figures, on both databases."""

import base64
import hashlib
import hmac
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.secrets import SecretUnreadable, secret_decrypt, secret_encrypt
from crm.connectors.models import ConnectorVersion, ShopConnection, WebhookDelivery
from crm.connectors.processing import deliveries_process_due
from crm.privacy.models import PrivacyRequest
from crm.tests.shopify_payloads import SECRET, customer, deliver, order, refund
from customers.models import Customer, CustomerIdentity, Event, ExchangeRate, Order, Refund
from customers.services.api_keys import shop_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Deliver, with the follow-up work that runs after the commit (the customer's figures)."""

    def go(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return deliver(*args, **kwargs)

    return go


@pytest.fixture
def acme(db):
    shop, _ = shop_create(slug="acme", name="Acme")
    ExchangeRate.objects.create(currency="EUR", rate_to_base=Decimal("1.10"))
    return ShopConnection.objects.create(
        shop=shop, platform="shopify", domain="acme.myshopify.com", secret_encrypted=secret_encrypt(SECRET)
    )


@pytest.fixture
def other(db):
    shop, _ = shop_create(slug="other", name="Other")
    return ShopConnection.objects.create(
        shop=shop, platform="shopify", domain="other.myshopify.com", secret_encrypted=secret_encrypt("other-secret")
    )


def test_a_signed_order_is_stored_answered_and_counted(client, acme, run):
    response = run(client, acme, "orders/create", order())

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.topic, delivery.status, delivery.error) == ("orders/create", "processed", "")
    assert bytes(delivery.body).startswith(b'{"id": 5001')
    assert delivery.headers["X-Shopify-Shop-Domain"] == "acme.myshopify.com"
    placed = Order.objects.get()
    assert (placed.shop_id, placed.external_id, placed.status, placed.currency) == (acme.shop_id, "5001", "paid", "USD")
    assert (placed.subtotal, placed.discount_total, placed.shipping_total, placed.tax_total, placed.total) == (
        Decimal("199.00"),
        Decimal("19.90"),
        Decimal("9.90"),
        Decimal("15.84"),
        Decimal("204.84"),
    )
    assert (placed.discount_code, placed.utm_source, placed.utm_campaign) == ("WELCOME10", "newsletter", "spring")
    assert sorted(placed.lines.values_list("sku", "quantity", "unit_price")) == [
        ("MUG-1", 2, Decimal("49.50")),
        ("TEA-1", 1, Decimal("100.00")),
    ]
    buyer = Customer.objects.get()
    assert (buyer.email, buyer.orders_count, buyer.net_revenue) == ("ann@example.com", 1, Decimal("204.84"))
    assert buyer.marketing_consent is True


def test_prices_with_tax_included_in_another_currency(client, acme, run):
    eu = order(
        5002,
        currency="EUR",
        lines=(("BAG-1", "Bag", "119.00", 1),),
        discount="0.00",
        shipping="5.00",
        tax="19.80",
        taxes_included=True,
    )

    run(client, acme, "orders/create", eu)

    placed = Order.objects.get()
    assert (placed.total, placed.tax_total, placed.shipping_total, placed.total_base) == (
        Decimal("124.00"),
        Decimal("0.00"),
        Decimal("5.00"),
        Decimal("136.40"),
    )
    assert Customer.objects.get().net_revenue == Decimal("136.40")


def test_tips_and_duties_count_with_shipping_so_the_total_is_shopifys(client, acme, run):
    tipped = order(5003)
    tipped["total_price"] = "214.84"  # a 10.00 tip on top
    tipped["total_tip_received"] = "10.00"

    run(client, acme, "orders/create", tipped)

    placed = Order.objects.get()
    assert (placed.total, placed.shipping_total) == (Decimal("214.84"), Decimal("19.90"))


def test_a_refund_with_line_items_and_transactions_lowers_net_revenue_once(client, acme, run):
    run(client, acme, "orders/create", order())

    first = run(client, acme, "refunds/create", refund(), webhook_id="r-1")
    run(client, acme, "refunds/create", refund(), webhook_id="r-1")  # Shopify re-sends it
    later = order(updated_at="2026-02-05T12:00:05-05:00", financial_status="partially_refunded", refunds=[refund()])
    run(client, acme, "orders/updated", later)  # the order's own refunds array names it again

    assert first.status_code == 200
    assert WebhookDelivery.objects.count() == 3
    assert list(Refund.objects.values_list("external_id", "amount", "reason")) == [
        ("8001", Decimal("49.50"), "Broken in transit"),
    ]
    buyer = Customer.objects.get()
    assert (buyer.orders_count, buyer.net_revenue) == (1, Decimal("155.34"))


def test_a_refund_in_the_buyers_currency_counts_the_shop_money(acme):
    from crm.connectors.shopify import refund_amount

    body = refund(amount="45.00", currency="EUR")
    body["refund_line_items"][0]["subtotal_set"]["shop_money"] = {"amount": "49.50", "currency_code": "USD"}

    assert refund_amount(body, "USD") == Decimal("49.50")


@pytest.mark.parametrize("signature", [False, "", "bm90IHRoZSBzaWduYXR1cmU=", "sign-with-another-secret"])
def test_a_bad_or_missing_signature_is_401_and_stores_nothing(client, acme, signature):
    if signature == "sign-with-another-secret":
        response = deliver(client, acme, "orders/create", order(), secret="guessed")
    else:
        response = deliver(client, acme, "orders/create", order(), signature=signature)

    assert response.status_code == 401
    assert "X-Shopify-Hmac-Sha256" in response.json()["detail"]
    assert WebhookDelivery.objects.count() == 0 and Order.objects.count() == 0


def test_the_signature_covers_the_raw_bytes_not_a_reparsed_body(client, acme):
    import json

    payload = order()
    body = json.dumps(payload, indent=2).encode()  # same JSON, other bytes
    from crm.tests.shopify_payloads import sign

    response = deliver(client, acme, "orders/create", payload, signature=sign(body))

    assert response.status_code == 401 and WebhookDelivery.objects.count() == 0


def test_an_unknown_connection_is_404(client, acme):
    acme.token = "no-such-token"

    assert deliver(client, acme, "orders/create", order()).status_code == 404


def test_a_missing_webhook_id_is_400_naming_the_header(client, acme):
    response = deliver(client, acme, "orders/create", order(), webhook_id="")

    assert response.status_code == 400
    assert "X-Shopify-Webhook-Id" in response.json()["detail"]
    assert WebhookDelivery.objects.count() == 0


def test_a_replayed_webhook_id_writes_nothing_twice(client, acme, run):
    for _ in range(3):
        assert run(client, acme, "orders/create", order(), webhook_id="same-id").status_code == 200

    assert WebhookDelivery.objects.count() == 1
    assert Order.objects.count() == 1
    assert Customer.objects.get().orders_count == 1


def test_a_duplicate_delivery_under_a_new_id_changes_nothing(client, acme, run):
    run(client, acme, "orders/create", order(), webhook_id="a")
    run(client, acme, "orders/paid", order(), webhook_id="b")  # same order, same updated_at

    assert WebhookDelivery.objects.filter(status="processed").count() == 2
    assert "newer version was applied" in WebhookDelivery.objects.get(delivery_key="b").result
    assert Order.objects.count() == 1 and Customer.objects.get().orders_count == 1


def test_an_update_that_arrives_before_the_create_wins(client, acme, run):
    fulfilled = order(financial_status="paid", fulfillment_status="fulfilled", updated_at="2026-02-03T08:00:00Z")
    run(client, acme, "orders/updated", fulfilled)
    run(client, acme, "orders/create", order(financial_status="pending"))  # older: created first, sent late

    placed = Order.objects.get()
    assert placed.status == "fulfilled"
    assert ConnectorVersion.objects.get(resource="order").updated_at.isoformat() == "2026-02-03T08:00:00+00:00"
    assert "newer version" in WebhookDelivery.objects.get(topic="orders/create").result


def test_a_cancelled_order_is_not_counted(client, acme, run):
    run(client, acme, "orders/create", order())
    cancelled = order(cancelled_at="2026-02-02T09:00:00Z", financial_status="voided", updated_at="2026-02-02T09:00:00Z")
    run(client, acme, "orders/cancelled", cancelled)

    assert Order.objects.get().status == "cancelled"
    buyer = Customer.objects.get()
    assert (buyer.orders_count, buyer.net_revenue) == (0, Decimal("0.00"))


def test_a_guest_checkout_is_known_by_its_email(client, acme, run):
    run(client, acme, "orders/create", order(cust=None, email="guest@example.com"))

    buyer = Customer.objects.get()
    assert (buyer.email, buyer.orders_count) == ("guest@example.com", 1)


def test_a_failure_is_recorded_and_replayed_from_the_admin_once_fixed(client, admin_client, acme, run):
    yen = order(5009, currency="JPY", lines=(("CUP-1", "Cup", "3000", 1),), discount="0", shipping="500", tax="300")

    assert run(client, acme, "orders/create", yen).status_code == 200  # stored: Shopify is answered

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and "currency" in delivery.error and "JPY" in delivery.error
    # Invalid as it is (no rate to convert it): not tried again by itself, only by a replay.
    assert delivery.attempts == 1 and delivery.next_attempt_at is None
    assert Order.objects.count() == 0

    ExchangeRate.objects.create(currency="JPY", rate_to_base=Decimal("0.0070"))
    response = admin_client.post(
        "/admin/crm/webhookdelivery/", {"action": "replay", "_selected_action": [delivery.pk]}, follow=True
    )

    assert response.status_code == 200
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error, delivery.attempts) == ("processed", "", 2)
    assert Order.objects.get().total_base == Decimal("26.60")  # 3,800 yen


def test_a_refund_before_its_order_is_tried_again_later(client, acme, run):
    run(client, acme, "refunds/create", refund())
    waiting = WebhookDelivery.objects.get()
    assert waiting.status == "failed" and "has not arrived yet" in waiting.error
    assert waiting.next_attempt_at > timezone.now()  # not invalid: it waits for its order

    run(client, acme, "orders/create", order())
    WebhookDelivery.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert deliveries_process_due() == 1

    assert WebhookDelivery.objects.get(pk=waiting.pk).status == "processed"
    assert Refund.objects.get().amount == Decimal("49.50")


def test_one_shops_connection_cannot_write_into_another(client, acme, other):
    # Signed with acme's secret, sent to other's URL.
    assert deliver(client, other, "orders/create", order(), secret=SECRET).status_code == 401
    # Other's own secret, but naming acme's store.
    assert (
        deliver(client, other, "orders/create", order(), secret="other-secret", domain="acme.myshopify.com").status_code
        == 401
    )
    assert WebhookDelivery.objects.count() == 0

    deliver(client, acme, "orders/create", order())
    assert list(Order.objects.values_list("shop_id", flat=True)) == [acme.shop_id]


def test_customers_and_their_marketing_consent(client, acme, run):
    run(client, acme, "customers/create", customer(state="subscribed"))
    legacy = customer(updated_at="2026-01-02T09:00:00-05:00")
    del legacy["email_marketing_consent"]
    legacy["accepts_marketing"] = False
    run(client, acme, "customers/update", legacy)
    stale = customer(state="subscribed", updated_at="2026-01-01T08:00:00-05:00", first_name="Old")
    run(client, acme, "customers/update", stale)

    person = Customer.objects.get()
    assert (person.first_name, person.country, person.marketing_consent) == ("Ann", "US", False)
    assert sorted(person.identities.values_list("external_id", flat=True)) == ["7001"]


def test_an_open_checkout_becomes_one_cart_abandoned_event(client, acme, run):
    checkout = {
        "id": 301,
        "token": "tok-301",
        "cart_token": "cart-301",
        "email": "ann@example.com",
        "customer": customer(),
        "created_at": "2026-02-01T10:00:00Z",
        "updated_at": "2026-02-01T10:05:00Z",
        "completed_at": None,
        "currency": "USD",
        "total_price": "99.00",
        "abandoned_checkout_url": "https://acme.myshopify.com/123/checkouts/tok-301/recover",
        "line_items": [{"sku": "MUG-1", "title": "Mug", "quantity": 2, "price": "49.50"}],
    }
    run(client, acme, "checkouts/create", checkout)
    run(client, acme, "checkouts/update", {**checkout, "updated_at": "2026-02-01T10:07:00Z"})
    run(client, acme, "checkouts/update", {**checkout, "token": "tok-302", "completed_at": "2026-02-01T10:09:00Z"})

    event = Event.objects.get()
    assert (event.type, event.external_id, event.shop_id) == (
        "cart_abandoned",
        "shopify-checkout:tok-301",
        acme.shop_id,
    )
    assert event.payload["url"].endswith("/recover") and event.payload["line_items"][0]["sku"] == "MUG-1"


def test_privacy_topics_are_queued_a_month_out(client, acme, run):
    body = {
        "shop_id": 954889,
        "shop_domain": "acme.myshopify.com",
        "customer": {"id": 7001, "email": "ann@example.com", "phone": "555-625-1199"},
        "orders_to_redact": [5001, 5002],
    }
    ann = Customer.objects.create(email="ann@example.com", email_normalized="ann@example.com")
    CustomerIdentity.objects.create(shop=acme.shop, customer=ann, external_id="7001")
    run(client, acme, "customers/redact", body)
    run(client, acme, "shop/redact", {"shop_id": 954889, "shop_domain": "acme.myshopify.com"})

    redact, shop_wide = PrivacyRequest.objects.order_by("id")
    assert (redact.kind, redact.customer_external_id, redact.order_external_ids) == (
        "customer_redact",
        "7001",
        ["5001", "5002"],
    )
    assert redact.due_at - redact.received_at == timedelta(days=30)
    assert (redact.customer, redact.source, redact.status) == (ann, "platform", "open")  # staff erase it
    assert (shop_wide.kind, shop_wide.status, shop_wide.customer) == ("shop_redact", "open", None)


def test_a_privacy_topic_with_a_malformed_customer_fails_with_its_reason(client, acme, run):
    run(client, acme, "customers/redact", {"shop_domain": "acme.myshopify.com", "customer": "not-an-object"})

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and "customer: str where an object was expected" in delivery.error
    assert PrivacyRequest.objects.count() == 0


def test_a_body_of_another_topic_sent_as_a_privacy_topic_opens_no_request(client, acme, run):
    """Shopify signs the body, not the topic: an order's body, captured and sent again under
    shop/redact or customers/redact, is refused with its reason."""
    order = {"id": 5001, "email": "ann@example.com", "customer": {"id": 7001, "email": "ann@example.com"}}
    run(client, acme, "shop/redact", order)
    run(client, acme, "customers/redact", order)
    run(client, acme, "shop/redact", {"shop_domain": "acme.myshopify.com", "customer": {"id": 7001}})

    errors = list(WebhookDelivery.objects.order_by("id").values_list("status", "error"))
    assert [status for status, _ in errors] == ["failed", "failed", "failed"]
    assert "shop_domain" in errors[0][1] and "shop_domain" in errors[1][1] and "names no customer" in errors[2][1]
    assert PrivacyRequest.objects.count() == 0


def test_a_privacy_request_sent_again_under_a_new_webhook_id_opens_no_second_one(client, acme, run):
    body = {"shop_id": 1, "shop_domain": "acme.myshopify.com", "customer": {"id": 7001, "email": "ann@example.com"}}
    run(client, acme, "customers/redact", body)
    run(client, acme, "customers/redact", body)

    assert PrivacyRequest.objects.count() == 1
    assert "is open already" in WebhookDelivery.objects.order_by("id").last().result


def test_an_order_id_sent_as_a_fraction_or_exponent_fails_with_its_reason(client, acme, run):
    run(client, acme, "orders/create", {"id": 1e30, "currency": "USD", "created_at": "2026-02-01T10:00:00Z"})

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and "id: 1e+30 is not an id" in delivery.error
    assert not Order.objects.exists()


def test_a_delivery_without_its_store_named_is_refused(client, acme):
    body = b'{"id": 1}'
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()

    response = client.post(
        f"/connectors/shopify/{acme.token}/",
        body,
        content_type="application/json",
        HTTP_X_SHOPIFY_HMAC_SHA256=digest,
        HTTP_X_SHOPIFY_TOPIC="orders/create",
        HTTP_X_SHOPIFY_WEBHOOK_ID="no-domain-1",
    )

    assert response.status_code == 401 and "X-Shopify-Shop-Domain (missing)" in response.json()["detail"]
    assert not WebhookDelivery.objects.exists()


def test_an_unknown_topic_is_stored_and_marked_ignored(client, acme, run):
    run(client, acme, "products/update", {"id": 1})

    assert "ignored" in WebhookDelivery.objects.get().result


def test_a_body_that_is_not_json_fails_with_its_reason(client, acme):
    import uuid

    from crm.tests.shopify_payloads import sign

    body = b"not json"
    client.post(
        f"/connectors/shopify/{acme.token}/",
        data=body,
        content_type="application/json",
        headers={
            "X-Shopify-Hmac-Sha256": sign(body),
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": "acme.myshopify.com",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        },
    )

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and "not JSON" in delivery.error


class TestSecrets:
    def test_the_secret_is_stored_encrypted_and_read_back(self, settings):
        stored = secret_encrypt("shpss_abc")

        assert "shpss_abc" not in stored
        assert secret_decrypt(stored) == "shpss_abc"
        assert secret_encrypt("shpss_abc") != stored  # a fresh IV each time

    def test_another_key_cannot_read_it_and_a_rotated_key_still_can(self, settings):
        stored = secret_encrypt("shpss_abc")
        settings.STORED_SECRETS_KEYS = "another key"
        with pytest.raises(SecretUnreadable):
            secret_decrypt(stored)

        settings.STORED_SECRETS_KEYS = f"another key,{settings.SECRET_KEY}"  # the new key first, the old one kept
        assert secret_decrypt(stored) == "shpss_abc"
        assert secret_decrypt(secret_encrypt("x")) == "x"
        settings.STORED_SECRETS_KEYS = "another key"
        assert secret_decrypt(secret_encrypt("x")) == "x"  # encrypted under the new key

    def test_the_admin_form_never_shows_the_secret(self, admin_client, acme):
        page = admin_client.get(f"/admin/crm/shopconnection/{acme.pk}/change/").content.decode()

        assert SECRET not in page and acme.secret_encrypted not in page
        assert "Set. Leave empty to keep it" in page and acme.token in page

    def test_saving_without_a_new_secret_keeps_it_and_a_new_one_replaces_it(self, admin_client, acme):
        url = f"/admin/crm/shopconnection/{acme.pk}/change/"
        form = {
            "shop": acme.shop_id,
            "platform": "shopify",
            "domain": "ACME.myshopify.com/",
            "secret": "",
            "secret_env": "",
            "is_active": "on",
        }

        assert admin_client.post(url, form).status_code == 302
        acme.refresh_from_db()
        assert acme.domain == "acme.myshopify.com" and secret_decrypt(acme.secret_encrypted) == SECRET

        admin_client.post(url, {**form, "secret": "rotated"})
        acme.refresh_from_db()
        assert secret_decrypt(acme.secret_encrypted) == "rotated"

    def test_a_secret_from_the_environment(self, client, acme, monkeypatch, run):
        monkeypatch.setenv("SHOPIFY_SECRET_ACME", "from-env")
        ShopConnection.objects.filter(pk=acme.pk).update(secret_env="SHOPIFY_SECRET_ACME", secret_encrypted="")

        assert deliver(client, acme, "orders/create", order(), secret=SECRET).status_code == 401
        assert deliver(client, acme, "orders/create", order(), secret="from-env").status_code == 200


def test_deliveries_stored_while_the_broker_is_down_are_processed_by_the_sweep(client, acme, monkeypatch):
    """The kick after the response fails (Redis down): the delivery is stored and answered,
    and the periodic task applies it."""
    from crm.tasks import process_webhook_deliveries

    monkeypatch.setattr("crm.connectors.processing.deliveries_process_due", lambda **kw: 0)
    assert deliver(client, acme, "orders/create", order()).status_code == 200
    assert WebhookDelivery.objects.get().status == "pending" and Order.objects.count() == 0
    monkeypatch.undo()

    assert process_webhook_deliveries() == 1
    assert WebhookDelivery.objects.get().status == "processed" and Order.objects.count() == 1


def test_the_intake_is_one_insert_once_the_connection_is_known(client, acme, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr("crm.connectors.processing.deliveries_process_due", lambda **kw: 0)
    deliver(client, acme, "orders/create", order(), webhook_id="first")  # reads the connection

    with django_assert_num_queries(1):
        assert deliver(client, acme, "orders/create", order(), webhook_id="second").status_code == 200
    with django_assert_num_queries(1):  # a re-send: the same INSERT, which stores nothing
        assert deliver(client, acme, "orders/create", order(), webhook_id="second").status_code == 200
    assert WebhookDelivery.objects.count() == 2


def test_nulls_where_shopify_sends_nulls(client, acme, run):
    sparse = order(5010, lines=(("", "Gift wrap", "5.00", 1),), discount="0.00", shipping="0.00", tax="0.00")
    sparse["line_items"][0]["sku"] = None
    sparse["shipping_lines"] = []
    sparse["discount_codes"] = []
    sparse["landing_site"] = None
    sparse["source_name"] = None
    sparse["shipping_address"] = None
    sparse["customer"] = {
        "id": 7002,
        "email": None,
        "first_name": None,
        "last_name": None,
        "phone": "+15555550100",
        "tags": "",
        "default_address": None,
        "email_marketing_consent": None,
    }
    sparse["email"] = "buyer@example.com"

    run(client, acme, "orders/create", sparse)

    placed = Order.objects.get()
    assert (placed.total, placed.shipping_total, placed.discount_code, placed.source) == (Decimal("5.00"), 0, "", "")
    assert list(placed.lines.values_list("sku", "name")) == [("", "Gift wrap")]
    buyer = Customer.objects.get()
    assert (buyer.email, buyer.phone, buyer.first_name, buyer.marketing_consent) == (
        "buyer@example.com",
        "+15555550100",
        "",
        False,
    )
