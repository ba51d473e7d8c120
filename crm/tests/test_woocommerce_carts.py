"""WooCommerce's abandoned carts: an order still in ``checkout-draft`` (the block checkout's
open checkout) or ``pending`` (not paid) with a billing email is one ``cart_abandoned``
event and no order; paid, it becomes the order and ends the "Abandoned cart" flow.
Payloads in WooCommerce's REST API v3 shape, signed as WooCommerce signs them."""

from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns.flows.engine import flow_activate, flows_pass
from campaigns.models import Flow, FlowRun, SendingPolicy
from core.secrets import secret_encrypt
from crm.connectors.models import ShopConnection, WebhookDelivery
from crm.tests.test_woocommerce_connector import SECRET, deliver, wc_order
from customers.models import Customer, CustomerIdentity, Event, Order
from customers.services.api_keys import shop_create
from messaging.models import Message

pytestmark = pytest.mark.django_db

T0 = (timezone.now() - timedelta(hours=3)).replace(microsecond=0)


def gmt(at) -> str:
    """A time as WooCommerce's ``*_gmt`` fields give it: UTC, no offset."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def woo_order(oid=800, *, status, minutes=0, email="bo@example.com", paid_minutes=None, customer_id=0):
    """Order ``oid`` as WooCommerce sends it ``minutes`` after T0 (when its checkout began)."""
    body = wc_order(oid, status=status, modified=gmt(T0 + timedelta(minutes=minutes)))
    body.update(
        date_created_gmt=gmt(T0),
        date_paid_gmt=gmt(T0 + timedelta(minutes=paid_minutes)) if paid_minutes is not None else None,
        customer_id=customer_id,
        payment_url=f"https://shop.example.org/checkout/order-pay/{oid}/?pay_for_order=true&key=wc_order_abc",
    )
    body["billing"] = {**body["billing"], "email": email}
    return body


@pytest.fixture
def site(db):
    shop, _ = shop_create(slug="woo", name="Woo")
    return ShopConnection.objects.create(
        shop=shop, platform="woocommerce", domain="https://shop.example.org", secret_encrypted=secret_encrypt(SECRET)
    )


@pytest.fixture
def run(client, site, django_capture_on_commit_callbacks):
    def go(topic, payload):
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver(client, site, topic, payload).status_code == 200
        return WebhookDelivery.objects.order_by("-id").first()

    return go


def test_a_draft_then_pending_order_is_one_cart_abandoned_event_and_no_revenue(site, run):
    draft = run("order.created", woo_order(status="checkout-draft"))
    pending = run("order.updated", woo_order(status="pending", minutes=5))

    assert (draft.status, draft.result) == (
        "processed",
        "order 800 checkout-draft: a cart, not an order; cart_abandoned event recorded",
    )
    assert (pending.status, pending.result) == (
        "processed",
        "order 800 pending: a cart, not an order; cart_abandoned event already recorded",
    )
    event = Event.objects.get()
    assert (event.type, event.external_id, event.occurred_at) == ("cart_abandoned", "woocommerce-order:800", T0)
    assert event.payload == {
        "source": "woocommerce",
        "order_id": "800",
        "status": "checkout-draft",
        "total_price": "103.00",
        "currency": "USD",
        "url": "https://shop.example.org/checkout/order-pay/800/?pay_for_order=true&key=wc_order_abc",
        "line_items": [
            {"sku": "HOOD", "title": "Hoodie", "quantity": 2, "price": "27.0"},
            {"sku": "CAP", "title": "Cap", "quantity": 3, "price": "12.0"},
        ],
    }
    assert Order.objects.count() == 0
    buyer = Customer.objects.get()
    assert (buyer.email, buyer.orders_count, buyer.net_revenue) == ("bo@example.com", 0, Decimal("0"))
    assert event.customer_id == buyer.pk


def test_a_draft_with_no_email_yet_records_nothing(site, run):
    delivery = run("order.created", woo_order(status="checkout-draft", email=""))

    assert (delivery.status, delivery.result) == (
        "processed",
        "order 800 checkout-draft: a cart with no email yet; nothing to remind",
    )
    assert (Event.objects.count(), Order.objects.count(), Customer.objects.count()) == (0, 0, 0)


def test_a_cart_paid_becomes_the_order_and_ends_the_abandoned_cart_flow(site, run):
    SendingPolicy.objects.update(cap_hours=0, quiet_start=0, quiet_end=0)
    call_command("install_shipped_flows")
    flow = Flow.objects.get(shop=site.shop, name="Abandoned cart")
    flow_activate(flow=flow, active=True, now=T0)
    run("order.created", woo_order(800, status="pending", email="bo@example.com"))
    run("order.created", woo_order(801, status="pending", email="cy@example.com"))
    CustomerIdentity.objects.update(marketing_consent=True)  # both may be reminded
    flows_pass(now=T0 + timedelta(minutes=5))
    assert FlowRun.objects.filter(flow=flow, status="active").count() == 2

    # Bo pays twenty minutes later; Cy never does.
    run("order.updated", woo_order(800, status="processing", minutes=20, paid_minutes=20))
    flows_pass(now=T0 + timedelta(minutes=61))

    order = Order.objects.get()
    assert (order.external_id, order.status, order.total) == ("800", "paid", Decimal("103.00"))
    # Placed when it stopped being a cart, after the cart's event (its creation time is the
    # checkout's beginning, before it).
    assert order.placed_at == T0 + timedelta(minutes=20)
    bo = Customer.objects.get(email="bo@example.com")
    assert (bo.orders_count, bo.net_revenue) == (1, Decimal("103.00"))
    runs = dict(FlowRun.objects.filter(flow=flow).values_list("customer__email", "exit_reason"))
    assert runs == {"bo@example.com": "placed an order", "cy@example.com": ""}
    assert list(Message.objects.values_list("to_email", flat=True)) == ["cy@example.com"]

    # Later updates keep that time.
    run("order.updated", woo_order(800, status="completed", minutes=60 * 24, paid_minutes=20))
    order.refresh_from_db()
    assert (order.status, order.placed_at) == ("fulfilled", T0 + timedelta(minutes=20))


def test_a_cart_woocommerce_cancels_unpaid_is_never_an_order(site, run):
    run("order.created", woo_order(status="pending"))
    cancelled = run("order.updated", woo_order(status="cancelled", minutes=60))

    assert cancelled.result == "order 800 cancelled: a cart given up, never an order; nothing recorded"
    assert Order.objects.count() == 0
    assert Event.objects.filter(type="cart_abandoned").count() == 1


def test_an_order_paid_at_once_is_an_order_as_before(site, run):
    run("order.created", woo_order(status="processing", paid_minutes=0))
    run("order.updated", woo_order(status="pending", minutes=-5))  # an older version, late: nothing

    order = Order.objects.get()
    assert (order.status, order.placed_at) == ("paid", T0)  # placed when created
    assert Event.objects.count() == 0

    # Put back to pending payment by the shop later: the order it is stays an order.
    run("order.updated", woo_order(status="pending", minutes=30))
    order.refresh_from_db()
    assert (order.status, order.placed_at) == ("placed", T0)
    assert Event.objects.count() == 0
