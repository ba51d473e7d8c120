"""The support agent's path in a real browser: sign in, open a ticket from the queue,
follow the customer link to the 360 page, find the order and the ticket in the timeline,
and read the customer's figures: money with its currency, what each figure means on hover
and, one click away, why the three CLVs differ. The screenshots are kept in
build/screenshots/ as the test's artefacts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from crm.roles import SUPPORT_AGENT
from customers.models import CustomerMetrics
from customers.services.recompute import customers_recompute
from customers.tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ShopFactory, fitted_model
from support.tickets import TicketData, ticket_open
from tests.conftest import SHOTS, look

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def agent(django_user_model):
    user = django_user_model.objects.create_user("sam", password="agent-pass-1", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_AGENT))
    return user


def test_an_agent_goes_from_a_ticket_to_the_customers_whole_story(browser_login, agent):
    fitted_model()
    customer = CustomerFactory(first_name="Grace", last_name="Hopper", email="grace@example.com")
    eu = ShopFactory(name="EU Store")
    for age, total in ((200, "1450.00"), (120, "310.00")):
        OrderFactory(
            customer=customer,
            shop=eu,
            placed_at=timezone.now() - timedelta(days=age),
            currency="EUR",
            total=Decimal(total),
            total_base=Decimal(total) * Decimal("1.08"),
            exchange_rate=Decimal("1.08"),
        )
    order = OrderFactory(
        customer=customer, external_id="ORD-4711", placed_at=timezone.now() - timedelta(days=3), total=Decimal("89.00")
    )
    OrderLineFactory(order=order, sku="KETTLE", name="Copper kettle", quantity=1)
    customers_recompute(customer_ids=[customer.pk])
    ticket, _ = ticket_open(
        customer=customer, data=TicketData(subject="Kettle arrived dented", body="<p>The spout is bent.</p>")
    )

    page = browser_login("sam", "agent-pass-1")
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.click("text=Tickets")
    page.click(f"text={ticket.subject}")
    page.wait_for_selector("#ticket-conversation")
    # The theme's controls on the ticket page: the 360 page's quick actions must look the same.
    themed = {name: look(page.locator(f"#id_{name}")) for name in ("subject", "reply", "reply_as")}
    page.click("#ticket-customer >> text=Grace Hopper")  # the customer link beside the conversation

    page.wait_for_selector("#customer-360")
    timeline = page.locator("#timeline")
    assert "Order ORD-4711" in timeline.inner_text()
    assert "Copper kettle" in timeline.inner_text()
    assert "89.00 USD" in timeline.inner_text()
    assert f"#{ticket.pk} Kettle arrived dented" in timeline.inner_text()
    assert "grace@example.com" in page.locator("#c360-header").inner_text()

    # Money says its currency, and where it came from when it was not the base currency.
    figures = page.locator("#c360-figures")
    assert "HISTORICAL CLV\n1,989.80 USD over 3 orders" in figures.inner_text()  # the label is upper-cased
    assert "paid as 1,760.00 EUR + 89.00 USD" in figures.inner_text()
    metrics = CustomerMetrics.objects.get(customer=customer)
    assert f"{metrics.clv_predicted:,.2f} USD" in page.locator("#fact-clv-predicted").inner_text()
    assert page.locator("#fact-p-alive").inner_text().endswith(f"{round(metrics.p_alive * 100)}%")
    # What a figure is, on hover; why the CLVs differ, one click away.
    assert "in the coming 12 months" in page.locator("#fact-clv-predicted").get_attribute("title")
    assert not page.locator("#c360-clv-differences").is_visible()
    page.click("#c360-about summary")
    assert page.locator("#c360-clv-differences").is_visible()
    assert "Historical is the past" in page.locator("#c360-clv-differences").inner_text()
    page.screenshot(path=str(SHOTS / "customer-360.png"), full_page=True)

    # The quick actions' fields are drawn as the theme draws the ticket page's.
    actions = page.locator(".actions-box")
    assert look(actions.locator("#id_subject")) == look(actions.locator("#id_tag")) == themed["subject"]
    assert look(actions.locator("#id_message")) == look(actions.locator("#id_body")) == themed["reply"]
    assert look(actions.locator("#id_priority")) == themed["reply_as"]
    assert actions.locator("label[for=id_priority]").inner_text() == "Priority*"  # the theme's label

    # The timeline filter narrows it to orders.
    page.check("input[name=type][value=orders]")
    page.click("#timeline-filters input[type=submit]")
    page.wait_for_url("**type=orders**")
    assert "Order ORD-4711" in timeline.inner_text() and "Kettle arrived dented" not in timeline.inner_text()


def test_a_one_time_buyer_who_lapsed_reads_lapsed_without_a_p_alive_of_100(page, live_server):
    fitted_model()
    customer = CustomerFactory(first_name="Alan", last_name="Turing")
    OrderFactory(customer=customer, placed_at=timezone.now() - timedelta(days=400), total=Decimal("42.00"))
    customers_recompute(customer_ids=[customer.pk])

    page.goto(f"{live_server.url}/admin/crm/customer360/{customer.pk}/change/")

    assert page.locator("#c360-stage-line").inner_text() == (
        "Lapsed: last order 400 days ago; lapsed after 365 days without one"
    )
    assert page.locator("#fact-p-alive").inner_text() == "P(ALIVE)\nnot estimated for one-time buyers"
    assert "one-time buyers" in page.locator("#fact-p-alive").get_attribute("title")
    page.screenshot(path=str(SHOTS / "customer-360-one-time-buyer.png"), full_page=True)


def test_a_long_unbroken_word_wraps_in_the_timeline_at_1440_px(browser_login, agent):
    customer = CustomerFactory(first_name="Ada", last_name="Long", email="ada@example.com")
    ticket_open(customer=customer, data=TicketData(subject="Link", body="https://example.com/" + "x" * 3000))

    page = browser_login("sam", "agent-pass-1")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(page.url.split("/admin/")[0] + f"/admin/crm/customer360/{customer.pk}/change/")
    page.wait_for_selector(".timeline")

    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    page.screenshot(path=SHOTS / "customer_360_long_word.png")


def test_the_customer_record_with_two_shops_fits_1440_px(browser_login, django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.com", "root-pass-1")
    customer = CustomerFactory(first_name="Finn", last_name="Rossi", email="finn@example.com")
    for name in ("EU Store", "US Store"):
        customer.identities.create(
            shop=ShopFactory(name=name),
            external_id=f"{name[:2]}-{'9' * 40}",
            email="finn.rossi.with.a.long.address@example.com",
            phone="+1 450 895 0550",
            country="DE",
            marketing_consent=True,
            marketing_consent_at=timezone.now(),
            utm_campaign="winter-sale-" + "x" * 60,
        )

    page = browser_login("root", "root-pass-1")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(page.url.split("/admin/")[0] + f"/admin/customers/customer/{customer.pk}/change/")
    page.wait_for_selector("#id_email")

    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    assert page.locator("#id_identities-0-marketing_consent").is_visible()  # its date is read-only beside it
    page.screenshot(path=SHOTS / "customer_record.png", full_page=True)


def test_a_marketer_reads_the_customers_flows_and_what_a_campaign_email_was_for(browser_login, django_user_model):
    from campaigns.emails import email_send
    from crm.roles import MARKETER
    from crm.tests.campaign_360_data import a_campaign, a_flow_with_an_email, no_cap_nor_quiet_hours
    from messaging.tests.fixtures import branded_shop

    marketer = django_user_model.objects.create_user("mia", password="marketer-pass-1", is_staff=True)
    marketer.groups.add(Group.objects.get(name=MARKETER))
    no_cap_nor_quiet_hours()
    shop = branded_shop()
    customer = CustomerFactory(first_name="Mia", last_name="Wong", email="mia.wong@example.com", time_zone="UTC")
    customer.identities.create(shop=shop, external_id="c-1", marketing_consent=True)
    flow = a_flow_with_an_email(shop, timezone.now(), [customer])
    campaign = a_campaign(shop)
    email_send(email=campaign.email, customer_ids=[customer.pk])
    # She clicks both emails, then orders: the conversions panel credits them.
    from campaigns.attribution.passes import attribution_run
    from campaigns.models import Send
    from messaging.models import MessageEvent, MessageStatus

    for hours, send in zip((3, 2), Send.objects.filter(customer=customer).order_by("id"), strict=True):
        at = timezone.now() - timedelta(hours=hours)
        MessageEvent.objects.create(message_id=send.message_id, status=MessageStatus.CLICKED, at=at)
    OrderFactory(customer=customer, shop=shop, placed_at=timezone.now() - timedelta(hours=1), total=Decimal("80.00"))
    attribution_run()

    page = browser_login("mia", "marketer-pass-1")
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(page.url.split("/admin/")[0] + f"/admin/crm/customer360/{customer.pk}/change/")
    page.wait_for_selector("#c360-flows")

    # The conversions panel: the table within its panel (it once spilled under the quick
    # actions, its five model columns' headings one letter a line), headings on one line.
    panel = page.locator("#c360-conversions")
    page.screenshot(path=str(SHOTS / "customer-360-conversions.png"), full_page=True)
    assert page.locator("#c360-credits tbody tr").count() == 2
    heights = page.locator("#c360-credits thead th").evaluate_all("ths => ths.map(th => th.offsetHeight)")
    assert max(heights) < 40, heights
    assert panel.evaluate("e => e.scrollWidth <= e.clientWidth")
    first = page.locator("#c360-credits tbody tr").first.inner_text()
    assert "Last click 0.00" in first and "First click 80.00" in first and "Linear 40.00" in first

    flows = page.locator("#c360-flow-runs")
    assert "Welcome series" in flows.inner_text() and "4. Add a tag" in flows.inner_text()
    assert "In the flow" in flows.inner_text()
    timeline = page.locator("#timeline")
    assert "campaign Spring sale, variant" in timeline.inner_text()
    assert "flow Welcome series, step 2, variant A" in timeline.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    page.screenshot(path=str(SHOTS / "customer-360-flows.png"), full_page=True)

    page.click("#timeline >> text=Spring sale")  # the campaign's own page
    page.wait_for_url(f"**/admin/campaigns/campaign/{campaign.pk}/change/")
    page.go_back()
    page.click("#c360-flow-runs >> text=Welcome series")
    page.wait_for_url(f"**/admin/campaigns/flow/{flow.pk}/change/")
