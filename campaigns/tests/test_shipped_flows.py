"""The ready-made flows: every shop gets them, switched off, with copy that renders and
parameters the admin would accept; installing again adds nothing."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns.flows.engine import flow_activate, flows_pass
from campaigns.flows.shipped import SHIPPED
from campaigns.models import Flow, FlowRun, StepKind
from campaigns.tests.flow_helpers import mailable, shop_with_sender
from customers.models import Event
from messaging.models import Message
from messaging.sending import messages_send
from messaging.tests.fixtures import smtp  # noqa: F401

pytestmark = pytest.mark.django_db

NAMES = {
    "Welcome series",
    "Abandoned cart",
    "Post-purchase review request",
    "Win-back",
    "Birthday",
    "Points expiring",
}


def test_a_shop_created_later_gets_them_too_in_the_same_transaction(settings):
    from django.db import transaction

    from customers.services.api_keys import shop_create

    settings.SHIPPED_FLOWS_FOR_NEW_SHOPS = True
    shop, _ = shop_create(slug="new-shop", name="New shop")
    assert set(Flow.objects.filter(shop=shop).values_list("name", flat=True)) == NAMES
    assert not Flow.objects.filter(shop=shop, active=True).exists()

    with pytest.raises(RuntimeError), transaction.atomic():  # a shop that is not created gets no flows
        shop_create(slug="failed-shop", name="Failed shop")
        raise RuntimeError
    assert Flow.objects.count() == len(NAMES)


def test_every_shop_gets_the_shipped_flows_switched_off_once():
    shop = shop_with_sender()
    call_command("install_shipped_flows")
    call_command("install_shipped_flows")

    flows = Flow.objects.filter(shop=shop)
    assert set(flows.values_list("name", flat=True)) == NAMES == {s["name"] for s in SHIPPED}
    assert not flows.filter(active=True).exists()
    cart = flows.get(name="Abandoned cart")
    send = cart.steps.filter(kind=StepKind.SEND_EMAIL).first()
    assert send.email.holdout_percent == 10 and send.email.variants.count() == 2
    assert cart.trigger_params == {"event_type": "cart_abandoned", "delay_minutes": 60} and cart.exit_on_order


def test_the_shipped_welcome_series_sends_its_first_email_once_switched_on(smtp):  # noqa: F811
    shop = shop_with_sender()
    (ann,) = mailable(shop, first_name="Ann")
    call_command("install_shipped_flows")
    welcome = Flow.objects.get(shop=shop, name="Welcome series")
    flow_activate(flow=welcome, active=True)
    now = timezone.now()
    Event.objects.create(shop=shop, customer=ann, type="newsletter_signup", occurred_at=now, payload={})

    flows_pass(now=now)
    messages_send(now=now)

    [wire] = smtp.messages()
    assert wire["Subject"] == "Welcome, Ann"
    assert FlowRun.objects.get(flow=welcome).step.kind == StepKind.SEND_EMAIL  # the second, in two days
    assert Message.objects.count() == 1
