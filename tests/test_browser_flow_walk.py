"""Issue 21's walk-through, in Chromium: a marketer sets up the shipped abandoned-cart flow
with an A/B split and a holdout, switches it on (confirming), and after a simulated week
reads on the flow page how many customers passed each step and what each variant and the
holdout converted, with the statistics' verdict.

The week is simulated with a clock the whole process reads (``django.utils.timezone.now``,
the live server's thread included): carts are abandoned through the services the API calls
(``crm.pipeline.event_receive``, with marketing consent), orders arrive the same way
(``orders_receive``), the flow pass runs at the simulated times, the messages go to a real
SMTP server, and clicks go through the tracked-link redirect over HTTP. The screenshots
(build/screenshots/flow_*.png) are for a person to look at.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.experiments import stats
from campaigns.flows.engine import flows_pass
from campaigns.flows.shipped import shipped_flows_install
from campaigns.models import Flow, FlowRun, FlowStepRun, RunStatus, Send
from campaigns.tests.flow_helpers import shop_with_sender
from crm.pipeline import event_receive, orders_receive
from crm.roles import MARKETER
from customers.services.customers import CustomerData
from customers.services.events import EventData
from customers.services.orders import OrderData
from messaging.sending import messages_send
from messaging.tests.fixtures import smtp  # noqa: F401
from tests.conftest import SHOTS, message
from tests.test_browser_dashboard import problems

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DAYS = 7
CARTS_PER_DAY = 10
CART_LINK = "https://acme.example/cart"
BODY_A = '<p>Hi {{ customer.first_name }}, your cart is waiting.</p><p><a href="%s">Back to your cart</a></p>'
BODY_B = '<p>{{ customer.first_name }}, still thinking?</p><p><a href="%s">Finish your order</a></p>'


class Clock:
    """The simulated time: ``timezone.now()`` everywhere in this process while it runs."""

    def __init__(self, start):
        self.at = start

    def __call__(self):
        return self.at


def customer_data(i: int) -> CustomerData:
    return CustomerData(email=f"shopper{i:03d}@example.com", first_name=f"Shopper{i}", marketing_consent=True)


def order(shop, i: int, at, total: str) -> None:
    orders_receive(
        shop=shop,
        orders=[
            OrderData(
                external_id=f"o-{i}",
                placed_at=at,
                currency=settings.BASE_CURRENCY,
                total=Decimal(total),
                customer=customer_data(i),
            )
        ],
    )


def arm_row(results, arm: str) -> dict[str, str]:
    """An arm's row of the report, by the columns' headings."""
    headings = [h.strip() for h in results.locator("thead th").all_inner_texts()]
    cells = [c.strip() for c in results.locator(f"tr.arm-{arm.lower()} td").all_inner_texts()]
    return dict(zip(headings, cells, strict=True))


def test_a_marketer_builds_an_abandoned_cart_ab_test_and_reads_its_week(  # noqa: PLR0915
    browser_login,
    django_user_model,
    live_server,
    smtp,  # noqa: F811
    monkeypatch,
):
    user = django_user_model.objects.create_user("mia", password="marketer-pass-1", is_staff=True)
    user.groups.add(Group.objects.get(name=MARKETER))
    shop = shop_with_sender(cap_hours=16)
    shipped_flows_install(shop=shop)
    flow = Flow.objects.get(shop=shop, name="Abandoned cart")

    # -- the marketer sets it up --------------------------------------------------------
    page = browser_login("mia", "marketer-pass-1")
    errors = problems(page)
    page.goto(f"{live_server.url}{reverse('admin:campaigns_flow_changelist')}")
    page.get_by_role("link", name="Abandoned cart").first.click()
    page.wait_for_url(re.compile(rf"/flow/{flow.pk}/change/"))
    # Each step shows its kind's fields: the wait step (the second) has no email to write.
    expect(page.locator("#id_steps-0-body")).to_be_visible()
    expect(page.locator("#id_steps-1-body")).to_be_hidden()
    expect(page.locator("#id_steps-1-subject")).to_be_hidden()
    wait_step = page.locator(".form-group", has=page.locator("#id_steps-1-kind")).last
    expect(wait_step.locator(".flow-email-only")).to_have_count(1)
    expect(wait_step.locator(".flow-email-only")).to_be_hidden()
    page.select_option("#id_steps-1-kind", "send_email")
    expect(page.locator("#id_steps-1-subject")).to_be_visible()
    page.select_option("#id_steps-1-kind", "wait")
    expect(page.locator("#id_steps-1-subject")).to_be_hidden()
    page.fill("#id_steps-0-body", BODY_A % CART_LINK)
    page.fill("#id_steps-0-holdout_percent", "20")
    page.select_option("#id_steps-0-winner_metric", "conversions")
    page.fill("#id_steps-0-min_uplift_percent", "20")
    page.screenshot(path=SHOTS / "flow_setup.png", full_page=True)
    page.locator("[name=_continue]").first.click()
    message(page, "was changed successfully").wait_for()

    page.get_by_role("link", name="Variants, weights and A/B settings of this email").first.click()
    page.wait_for_url(re.compile(r"/admin/campaigns/email/\d+/change/"))
    expect(page.locator("#id_variants-1-label")).to_have_value("B")
    page.fill("#id_variants-1-subject", "Still in your cart, {{ customer.first_name }}?")
    page.fill("#id_variants-1-body", BODY_B % CART_LINK)
    expect(page.locator("#id_holdout_percent")).to_have_value("20")
    page.screenshot(path=SHOTS / "flow_email_variants.png", full_page=True)
    page.locator("[name=_save]").first.click()
    page.wait_for_url(re.compile(rf"/flow/{flow.pk}/change/"))

    step1, wait, step3 = flow.steps.order_by("position", "id")
    email = step1.email
    assert [(v.label, v.weight) for v in email.variants.order_by("id")] == [("A", 1), ("B", 1)]
    assert (email.holdout_percent, email.winner_metric, email.min_uplift_percent) == (20, "conversions", 20)

    page.goto(f"{live_server.url}{reverse('admin:campaigns_flow_changelist')}")
    page.locator("#result_list tbody tr", has_text="Abandoned cart").locator("input.action-select").check()
    page.select_option("select[name=action]", "switch_on")
    page.click("button[name=index]")
    page.get_by_role("button", name="Yes, switch on").wait_for()
    page.screenshot(path=SHOTS / "flow_switch_on_confirm.png", full_page=True)
    page.get_by_role("button", name="Yes, switch on").click()
    message(page, "Switched on: 1 flow(s).").wait_for()
    flow.refresh_from_db()
    assert flow.active

    # -- a simulated week ---------------------------------------------------------------
    start = timezone.localtime(timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    clock = Clock(start)
    monkeypatch.setattr(timezone, "now", clock)

    def run_until(at):
        clock.at = at
        flows_pass(now=at)
        messages_send(now=at)

    cancelled, converted, clicked = set(), {}, {}
    for day in range(DAYS):
        morning = start + timedelta(days=day, hours=10)
        cohort = range(day * CARTS_PER_DAY, (day + 1) * CARTS_PER_DAY)
        for n, i in enumerate(cohort):
            clock.at = morning + timedelta(minutes=n)
            event_receive(
                shop=shop,
                data=EventData(
                    type="cart_abandoned",
                    occurred_at=clock.at,
                    customer=customer_data(i),
                    payload={"cart_total": "42.00"},
                    external_id=f"cart-{i}",
                ),
            )
        run_until(morning + timedelta(minutes=30))  # enrolled; the first email is due an hour after the cart
        # The first of each day's carts is bought within the hour: the reminder is cancelled.
        order(shop, cohort[0], morning + timedelta(minutes=40), "30.00")
        cancelled.add(cohort[0])
        run_until(morning + timedelta(hours=2))  # the reminder goes (or the holdout is drawn)
        sends = {
            s.customer.email: s
            for s in Send.objects.filter(email=email, assigned_at=morning + timedelta(hours=2)).select_related(
                "customer", "variant"
            )
        }
        # Some who got it click through the tracked link; some buy within the day.
        by_arm: dict[str, list[int]] = {}
        for i in cohort[1:]:
            s = sends[customer_data(i).email]
            by_arm.setdefault(s.variant.label if s.variant_id else "holdout", []).append(i)
        for arm, buyers in (("A", 1), ("B", 2), ("holdout", 0)):
            for i in by_arm.get(arm, [])[:buyers]:
                order(shop, i, morning + timedelta(hours=7), "50.00")
                converted[i] = arm
        for arm in ("A", "B"):
            for i in by_arm.get(arm, [])[:2]:
                wire = next(m for m in smtp.messages() if m["To"] == customer_data(i).email)
                html = wire.get_body(("html",)).get_content()
                tracked = re.search(r'href="[^"]*(/e/c/[^"]+)"', html).group(1)
                clock.at = morning + timedelta(hours=3)
                answer = requests.get(f"{live_server.url}{tracked}", allow_redirects=False, timeout=10)
                assert answer.status_code == 302 and answer.headers["Location"].startswith(f"{CART_LINK}?utm_")
                clicked[i] = arm
        run_until(morning + timedelta(hours=12))
    for hours in (12, 26, 36):  # the last day's second reminders, a day after the first
        run_until(start + timedelta(days=DAYS - 1, hours=10 + hours))

    # -- what the data says -------------------------------------------------------------
    customers = DAYS * CARTS_PER_DAY
    reached = customers - len(cancelled)
    arms = {"A": 0, "B": 0, "holdout": 0}
    for s in Send.objects.filter(email=email).select_related("variant"):
        arms[s.variant.label if s.variant_id else "holdout"] += 1
    assert sum(arms.values()) == reached and min(arms.values()) > 0
    second = reached - len(converted)  # the buyers left during the wait, before the second reminder
    assert FlowStepRun.objects.filter(step=step3).count() == second
    assert not FlowRun.objects.filter(flow=flow, status=RunStatus.ACTIVE).exists()
    wires = smtp.messages()
    assert len(wires) == arms["A"] + arms["B"] + second
    subjects = {m["Subject"] for m in wires}
    assert any(s.startswith("Still in your cart, Shopper") for s in subjects)

    # -- the marketer reads the results ---------------------------------------------------
    page.goto(f"{live_server.url}{reverse('admin:campaigns_flow_change', args=[flow.pk])}")
    boxes = page.locator(".flow-step")
    expect(boxes.nth(0)).to_contain_text("variants A, B · holdout 20 %")
    expect(boxes.nth(0)).to_contain_text(f"0 here now · {reached} passed")
    expect(boxes.nth(1)).to_contain_text(f"0 here now · {reached} passed")  # a wait runs as it is reached
    expect(boxes.nth(2)).to_contain_text(f"0 here now · {second} passed")
    page.locator(".flow-drawing").screenshot(path=SHOTS / "flow_steps_after_a_week.png")

    results = page.locator(f"#results-step-{step1.pk}")
    results.scroll_into_view_if_needed()
    conversions = {a: sum(1 for v in converted.values() if v == a) for a in arms}
    clicks = {a: sum(1 for v in clicked.values() if v == a) for a in arms}
    for arm in ("A", "B", "holdout"):
        row = arm_row(results, arm)
        recipients = 0 if arm == "holdout" else arms[arm]
        assert (row["arm"], row["customers"], row["recipients"]) == (arm, str(arms[arm]), str(recipients)), row
        assert row["clicks"] == str(clicks[arm]), row
        rate = conversions[arm] / arms[arm] * 100
        assert row["conversions"] == f"{conversions[arm]} ({rate:.1f} %)", row
        assert row["revenue per customer"] == f"{conversions[arm] * 50 / arms[arm]:,.2f} {settings.BASE_CURRENCY}", row
    pooled = (conversions["A"] + conversions["B"]) / (arms["A"] + arms["B"])
    needed = stats.sample_size_rate(pooled, 0.2)
    verdict = results.locator(".report-verdict").inner_text()
    assert verdict.startswith(f"Not enough data yet: {needed - min(arms['A'], arms['B'])} more recipients per variant.")
    assert f"each variant needs {needed} customers" in verdict
    results.screenshot(path=SHOTS / "flow_results_after_a_week.png")
    page.screenshot(path=SHOTS / "flow_page_after_a_week.png", full_page=True)
    assert errors == []
