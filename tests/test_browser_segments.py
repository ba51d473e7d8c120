"""The segment pages in a real browser: a marketer builds a two-group rule by clicking,
watches the live count, saves, and reads the rule back as a sentence; saves a static
segment; reads the members-over-time chart and pages through the members."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db.models import Q, Sum
from django.utils import timezone

from campaigns.backfill import segment_backfill_days, segment_history_backfill
from campaigns.models import Segment
from campaigns.selectors import segment_history
from campaigns.services import segment_create, segment_refresh
from customers.models import Customer, Order
from customers.services.recompute import customers_recompute
from customers.tests.factories import CustomerFactory, OrderFactory, ShopFactory
from tests.conftest import SHOTS, field_line, look, message
from tests.test_browser_dashboard import problems

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COUNTRY_DE = {"field": "country", "operator": "eq", "value": "DE"}
RECENT_BUYERS = {
    "match": "all",
    "children": [{"field": "orders_in_window", "operator": "gte", "value": 1, "within_days": 30}],
}


@pytest.fixture
def shoppers():
    """Customers in Germany and France, with and without recent spending and repeat orders."""
    now = timezone.now()
    plans = [
        ("DE", [250], 1),  # spent 250 in the window
        ("DE", [120, 100], 2),  # spent 220 in two orders
        ("DE", [50], 1),  # spent 50 only
        ("DE", [30, 30, 30], 3),  # three orders, spent 90
        ("DE", [], 0),
        ("FR", [400], 1),  # spent plenty, but not in Germany
        ("DE", [500], 1),  # spent 500, but long ago
    ]
    for i, (country, totals, orders_count) in enumerate(plans):
        customer = CustomerFactory(country=country, orders_count=orders_count)
        days_ago = 400 if i == len(plans) - 1 else 10
        for total in totals:
            OrderFactory(customer=customer, total=Decimal(total), placed_at=now - timedelta(days=days_ago))


def orm_count() -> int:
    """The rule built in the browser, counted independently with the ORM."""
    since = timezone.now() - timedelta(days=90)
    big_spenders = (
        Order.objects.filter(placed_at__gte=since)
        .values("customer_id")
        .annotate(spent=Sum("total_base"))
        .filter(spent__gte=200)
        .values("customer_id")
    )
    return Customer.objects.filter(Q(country="DE") & (Q(pk__in=big_spenders) | Q(orders_count__gte=3))).count()


def test_a_marketer_builds_a_two_group_rule_by_clicking_and_saves_it(page, live_server, shoppers):
    page.goto(f"{live_server.url}/admin/campaigns/segment/add/")
    page.fill("#id_name", "German big spenders")
    builder = page.locator(".rule-builder")

    # Group 1 (the whole rule, ALL): country is DE
    builder.locator(".rb-field").first.select_option("country")
    builder.locator(".rb-condition").first.locator(".rb-value-input").fill("DE")

    # Group 2 (ANY): spent ≥ 200 USD in the last 90 days OR orders ≥ 3
    builder.locator(".rb-add-group").first.click()
    inner = builder.locator(".rb-group[data-depth='2']")
    assert inner.locator(".rb-match").input_value() == "any"
    inner.locator(".rb-field").first.select_option("spent")
    spent = inner.locator(".rb-condition").first
    spent.locator(".rb-operator").select_option("gte")
    spent.locator(".rb-value-input").fill("200")
    spent.locator(".rb-window-amount").fill("90")
    inner.locator(".rb-add-condition").click()
    inner.locator(".rb-field").nth(1).select_option("orders_count")
    orders = inner.locator(".rb-condition").nth(1)
    orders.locator(".rb-operator").select_option("gte")
    orders.locator(".rb-value-input").fill("3")

    expected = orm_count()
    assert expected == 3
    sentence = "customers where country is DE AND (spent ≥ 200 USD in the last 90 days OR orders ≥ 3)"
    preview = page.locator(".rb-preview")
    preview.locator(".rb-sentence", has_text=sentence).wait_for()
    assert preview.locator(".rb-count-number").inner_text() == str(expected)
    assert preview.locator(".rb-sample li a").count() == expected
    page.screenshot(path=SHOTS / "segment_builder.png", full_page=True)

    page.click("[name=_continue]")
    message(page, "was added successfully").wait_for()

    segment = Segment.objects.get(name="German big spenders")
    assert segment.current_version.sentence == sentence
    assert segment.member_count == expected  # refreshed once the save committed
    assert field_line(page, "Rule").locator(".readonly").inner_text().endswith(f"v1: {sentence}")
    # The builder reopens the saved rule, and the page lists the members.
    assert page.locator(".rule-builder .rb-condition").count() == 3
    assert page.locator(".segment-members tbody tr").count() == expected
    page.screenshot(path=SHOTS / "segment_saved.png", full_page=True)


def test_an_incomplete_rule_is_explained_and_not_saved(page, live_server):
    page.goto(f"{live_server.url}/admin/campaigns/segment/add/")
    page.fill("#id_name", "Half a rule")
    page.locator(".rb-field").first.select_option("spent")
    page.locator(".rb-preview .rb-errors", has_text="spent): a value is required").wait_for()

    page.click("[name=_save]")
    errors = page.locator("#id_rule_error")
    errors.wait_for()
    assert "a value is required" in errors.inner_text()
    assert not Segment.objects.filter(name="Half a rule").exists()
    page.screenshot(path=SHOTS / "segment_builder_error.png", full_page=True)


def test_the_builder_asks_for_no_preview_until_each_condition_has_a_field(page, live_server, shoppers):
    """Opening a new segment, a saved one or a static one logs no error: a rule with a
    condition not started yet is not sent to the preview (which would answer 400)."""
    germany = segment_create(name="Germany", rule={"match": "all", "children": [COUNTRY_DE]})
    static = segment_create(name="Press list", kind=Segment.Kind.STATIC)
    errors = problems(page)
    previews: list[str] = []
    page.on("request", lambda r: previews.append(r.url) if r.url.endswith("/segment/preview/") else None)
    waiting = "Choose a field in each condition to see who matches."

    page.goto(f"{live_server.url}/admin/campaigns/segment/add/")
    page.wait_for_load_state("networkidle")
    assert page.locator(".rb-preview p").all_inner_texts() == [waiting]
    page.goto(f"{live_server.url}/admin/campaigns/segment/{static.pk}/change/")
    page.wait_for_load_state("networkidle")
    assert previews == []

    page.goto(f"{live_server.url}/admin/campaigns/segment/{germany.pk}/change/")
    preview = page.locator(".rb-preview")
    assert preview.locator(".rb-count-number").inner_text() == "6"  # six customers in Germany
    page.wait_for_load_state("networkidle")
    assert len(previews) == 1
    assert errors == []

    page.locator(".rb-add-condition").click()  # a new row, not chosen yet: nothing to ask
    preview.get_by_text(waiting).wait_for()
    page.wait_for_timeout(500)  # past the builder's 350 ms pause before it asks
    assert len(previews) == 1
    page.locator(".rb-field").nth(1).select_option("orders_count")  # started: asked, and explained
    preview.locator(".rb-errors", has_text="orders): a value is required").wait_for()
    assert len(previews) == 2


def test_a_static_segment_is_saved_from_pasted_emails_then_replaced_by_a_csv(page, live_server):
    ada, bob = CustomerFactory(email="ada@example.com"), CustomerFactory(email="bob@example.com")
    cid = CustomerFactory(email="cid@example.com")
    page.goto(f"{live_server.url}/admin/campaigns/segment/add/")
    page.fill("#id_name", "Press list")
    page.select_option("#id_kind", "static")
    assert page.locator(".field-rule").is_hidden()  # the builder is hidden, its empty condition still sent
    page.fill("#id_members_add", "ada@example.com")
    page.click("[name=_continue]")
    message(page, "was added successfully").wait_for()

    segment = Segment.objects.get(name="Press list")
    assert set(segment.memberships.filter(exited_at=None).values_list("customer_id", flat=True)) == {ada.pk}

    page.fill("#id_members_add", "bob@example.com")
    with page.expect_navigation():
        page.click("[name=_continue]")
    message(page, "Press list: 1 added, 0 removed.").wait_for()
    assert page.locator(".errornote").count() == 0
    assert set(segment.memberships.filter(exited_at=None).values_list("customer_id", flat=True)) == {ada.pk, bob.pk}
    page.screenshot(path=SHOTS / "segment_static_saved.png", full_page=True)

    # The member fields are drawn as the theme draws the fields above them.
    assert look(page.locator("#id_members_add")) == look(page.locator("#id_description"))
    assert look(page.locator("#id_upload_mode")) == look(page.locator("#id_kind"))
    upload_box = page.locator(".field-members_upload label", has=page.locator("input[type=text]")).locator("..")
    frame = ("border", "radius", "shadow")  # the box around the file input, as around the name's
    assert [look(upload_box)[k] for k in frame] == [look(page.locator("#id_name"))[k] for k in frame]
    # A CSV that replaces the list: the box names the file chosen.
    page.set_input_files(
        "#id_members_upload", {"name": "press.csv", "mimeType": "text/csv", "buffer": b"email\ncid@example.com\n"}
    )
    assert page.get_by_label("Choose file to upload").input_value() == "press.csv"
    page.select_option("#id_upload_mode", "replace")
    page.locator(".field-members_upload").locator("xpath=ancestor::fieldset").screenshot(
        path=SHOTS / "segment_static_members.png"
    )
    with page.expect_navigation():
        page.click("[name=_continue]")
    message(page, "Press list: 1 added, 2 removed.").wait_for()
    assert set(segment.memberships.filter(exited_at=None).values_list("customer_id", flat=True)) == {cid.pk}


def test_choosing_a_semicolon_csv_raises_no_script_error_and_adds_its_customers(page, live_server):
    """The theme's file box once failed on a file chosen (``unfold/js/app.js``: "Cannot read
    properties of null (reading 'setAttribute')"); a CSV as a European spreadsheet exports
    it (semicolons, CRLF) is read whole."""
    ada, bob = CustomerFactory(email="ada@example.com"), CustomerFactory(email="bob@example.com")
    errors = problems(page)
    page.goto(f"{live_server.url}/admin/campaigns/segment/add/")
    page.fill("#id_name", "Newsletter DE")
    page.select_option("#id_kind", "static")

    csv = b"Vorname;E-Mail;email\r\nAda;x;ada@example.com\r\nBob;y;bob@example.com\r\n"
    page.set_input_files("#id_members_upload", {"name": "liste.csv", "mimeType": "text/csv", "buffer": csv})
    page.locator("#id_members_upload").dispatch_event("change")  # as a second choice would
    assert errors == []
    assert page.get_by_label("Choose file to upload").input_value() == "liste.csv"
    with page.expect_navigation():
        page.click("[name=_continue]")

    message(page, "was added successfully").wait_for()
    segment = Segment.objects.get(name="Newsletter DE")
    assert set(segment.memberships.filter(exited_at=None).values_list("customer_id", flat=True)) == {ada.pk, bob.pk}
    assert errors == []


def _noon(days_ago: int):
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, time(12)))


def test_the_chart_reads_back_before_the_first_refresh_and_the_members_page_through(page, live_server):
    """A segment on recent orders, first refreshed three days ago: the chart's days before then
    are worked out from the orders (dashed), the days since are recorded (solid) with their
    entries and exits, the axes say what they count, and the members page through."""
    shop = ShopFactory()
    for i in range(300):  # one order each, spread over the last 80 days
        OrderFactory(shop=shop, customer=CustomerFactory(), placed_at=_noon(i % 80) - timedelta(hours=1))
    customers_recompute(customer_ids=list(Customer.objects.values_list("pk", flat=True)))  # as ingestion does
    segment = segment_create(name="Bought this month", rule=RECENT_BUYERS)
    for days_ago in (3, 2, 1, 0):  # refreshed daily since three days ago: the window slides
        segment_refresh(segment=segment, now=_noon(days_ago))
    segment.refresh_from_db()
    segment_history_backfill(segment=segment, days=segment_backfill_days(segment))
    members = segment.memberships.filter(exited_at=None).count()
    assert members == 120  # 30 days of orders, four customers a day

    page.goto(f"{live_server.url}/admin/campaigns/segment/{segment.pk}/change/")
    chart = page.locator(".segment-history")
    assert chart.locator(".member-line-estimated").count() == 1 and chart.locator(".member-line").count() == 1
    assert chart.locator(".axis-unit").all_text_contents() == ["members", "customers a day"]
    assert "±" not in chart.text_content()
    started = timezone.localdate() - timedelta(days=3)
    assert (
        chart.locator(".history-caption")
        .inner_text()
        .startswith(
            f"Recorded from {started.day} {started:%B %Y}, the first refresh (solid line); before it, worked out"
        )
    )
    assert chart.locator(".flow-entered").count() == 3 and chart.locator(".flow-exited").count() == 3
    # Before the first refresh, each day's count is the customers who ordered in the 30 days up
    # to it: four a day for days 0–59 ago, three for 60–79.
    per_day = [4] * 60 + [3] * 20 + [0] * 200
    estimated = {d.day: d.members for d in segment_history(segment=segment) if d.kind == "estimated"}
    ago = {day: (timezone.localdate() - day).days for day in estimated}
    assert estimated == {day: sum(per_day[t : t + 30]) for day, t in ago.items()}
    assert len(estimated) == 86 and min(estimated.values()) < 120
    chart.scroll_into_view_if_needed()
    chart.screenshot(path=SHOTS / "segment_chart.png")

    pager = page.locator(".member-pages")
    assert pager.locator(".member-page-count").inner_text() == "Page 1 of 3 · 1–50 of 120 members"
    pager.get_by_text("last »").click()
    assert page.locator(".member-page-count").inner_text() == "Page 3 of 3 · 101–120 of 120 members"
    assert page.locator(".segment-members tbody tr").count() == 20
    page.evaluate("document.querySelector('.segment-members h2').scrollIntoView()")
    page.screenshot(path=SHOTS / "segment_members_pages.png")
    page.locator(".member-pages").get_by_text("‹ previous").click()
    assert page.locator(".member-page-count").inner_text() == "Page 2 of 3 · 51–100 of 120 members"
