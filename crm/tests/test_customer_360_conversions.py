"""The 360 page's conversions panel: the customer's orders with the touches credited, named
by their campaign or flow, under every model side by side; shown to the roles that read
attribution, at a fixed number of queries."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.attribution.passes import attribution_run
from campaigns.emails import email_send
from campaigns.models import Send
from campaigns.tests.flow_helpers import mailable, shop_with_sender
from crm.roles import MARKETER, SUPPORT_AGENT
from crm.tests.campaign_360_data import a_campaign, a_flow_with_an_email, no_cap_nor_quiet_hours
from customers.tests.factories import OrderFactory
from messaging.models import MessageEvent, MessageStatus

pytestmark = pytest.mark.django_db


def url(customer):
    return reverse("admin:crm_customer360_change", args=[customer.pk])


@pytest.fixture
def shop():
    shop = shop_with_sender()
    no_cap_nor_quiet_hours()
    return shop


@pytest.fixture
def ann(shop):
    return mailable(shop, email="ann@example.com")[0]


def clicked(email, customer, at):
    """The customer's message of ``email`` clicked at ``at``."""
    message_id = Send.objects.get(email=email, customer=customer).message_id
    MessageEvent.objects.create(message_id=message_id, status=MessageStatus.CLICKED, at=at)


def test_a_marketer_sees_each_order_credited_to_the_campaign_and_flow_emails_clicked(client, login, shop, ann):
    now = timezone.now()
    campaign = a_campaign(shop)
    email_send(email=campaign.email, customer_ids=[ann.pk])
    flow = a_flow_with_an_email(shop, now, [ann])
    flow_email = flow.steps.get(email__isnull=False).email
    clicked(campaign.email, ann, now - timedelta(hours=3))
    clicked(flow_email, ann, now - timedelta(hours=2))
    order = OrderFactory(customer=ann, shop=shop, placed_at=now - timedelta(hours=1), total=Decimal("80.00"))
    attribution_run()
    login(MARKETER)

    response = client.get(url(ann))

    credits = response.context["conversions"]
    assert [(c.order_id, c.label, c.touch_kind) for c in credits] == [
        (order.pk, "Campaign “Spring sale”", "click"),
        (order.pk, "Flow “Welcome series”, step 2", "click"),
    ]
    # Last click, first click, linear, time decay, position: each model's split adds up to 80.00.
    assert [c.amounts[0] for c in credits] == [Decimal("0.00"), Decimal("80.00")]
    assert [c.amounts[1] for c in credits] == [Decimal("80.00"), Decimal("0.00")]
    assert [c.amounts[2] for c in credits] == [Decimal("40.00"), Decimal("40.00")]
    assert sum(c.amounts[3] for c in credits) == Decimal("80.00")
    html = response.content.decode()
    panel = html[html.index('id="c360-conversions"') : html.index("<h2>Timeline</h2>")]
    assert f'href="{reverse("admin:campaigns_campaign_change", args=[campaign.pk])}"' in panel
    assert f'href="{reverse("admin:campaigns_flow_change", args=[flow.pk])}"' in panel
    assert "Last click" in panel and "80.00" in panel


def test_an_agent_does_not_see_the_panel(client, login, shop, ann):
    campaign = a_campaign(shop)
    email_send(email=campaign.email, customer_ids=[ann.pk])
    clicked(campaign.email, ann, timezone.now() - timedelta(hours=2))
    OrderFactory(customer=ann, shop=shop, placed_at=timezone.now() - timedelta(hours=1))
    attribution_run()
    login(SUPPORT_AGENT)

    response = client.get(url(ann))

    assert response.context["conversions"] is None
    assert 'id="c360-conversions"' not in response.content.decode()


def test_a_customer_with_no_credited_order_reads_so(admin_client, ann):
    response = admin_client.get(url(ann))
    assert response.context["conversions"] == []
    assert "No order credited to a touch yet." in response.content.decode()


def test_the_panel_costs_the_same_queries_with_many_credited_orders(admin_client, shop, ann, django_assert_num_queries):
    now = timezone.now()
    campaign = a_campaign(shop)
    email_send(email=campaign.email, customer_ids=[ann.pk])
    clicked(campaign.email, ann, now - timedelta(days=4))
    OrderFactory(customer=ann, shop=shop, placed_at=now - timedelta(days=3))
    attribution_run()
    admin_client.get(url(ann))  # the session's first request costs more (the user, the session)
    with CaptureQueriesContext(connection) as small:
        admin_client.get(url(ann))
    for hours in range(1, 40):
        OrderFactory(customer=ann, shop=shop, placed_at=now - timedelta(hours=hours))
    attribution_run()
    with django_assert_num_queries(len(small)):
        response = admin_client.get(url(ann))
    assert len(response.context["conversions"]) == 20  # the newest twenty
    assert response.context["conversions"][0].placed_at == max(c.placed_at for c in response.context["conversions"])
