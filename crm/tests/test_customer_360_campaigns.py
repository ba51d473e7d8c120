"""The 360 page's campaigns and flows: each marketing email says what it was for (the
campaign, or the flow and its step, and the variant), a customer held out of an email has
an entry saying so, and the flows panel shows where the customer is in each flow. Links
and the panel follow the viewer's role; the page's queries stay fixed."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.emails import email_send
from campaigns.models import FlowRun, RunStatus, Send, StepKind
from campaigns.tests.flow_helpers import mailable, shop_with_sender
from crm.roles import MARKETER, SUPPORT_AGENT
from crm.tests.campaign_360_data import a_campaign, a_flow_with_an_email, no_cap_nor_quiet_hours

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


def entries(response, kind):
    return [e for e in response.context["page"].object_list if e.kind == kind]


def test_a_campaign_email_names_its_campaign_and_variant_with_a_link_for_a_marketer(client, login, shop, ann):
    campaign = a_campaign(shop)
    email_send(email=campaign.email, customer_ids=[ann.pk])
    send = Send.objects.get(customer=ann)
    login(MARKETER)

    response = client.get(url(ann))

    [entry] = entries(response, "email")
    assert entry.send == send and entry.obj.pk == send.message_id
    html = response.content.decode()
    link = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    assert f'campaign <a href="{link}">Spring sale</a>, variant {send.variant.label}' in html


def test_an_agent_reads_what_an_email_was_for_without_links_nor_the_flows_panel(client, login, shop, ann):
    campaign = a_campaign(shop)
    email_send(email=campaign.email, customer_ids=[ann.pk])
    flow = a_flow_with_an_email(shop, timezone.now(), [ann])
    login(SUPPORT_AGENT)

    response = client.get(url(ann))

    html = response.content.decode()
    assert "campaign <b>Spring sale</b>, variant " in html
    assert "flow <b>Welcome series</b>, step 2, variant A" in html
    assert reverse("admin:campaigns_campaign_change", args=[campaign.pk]) not in html
    assert reverse("admin:campaigns_flow_change", args=[flow.pk]) not in html
    assert response.context["flow_runs"] is None and 'id="c360-flows"' not in html


def test_a_flow_email_names_the_flow_and_its_step_and_the_panel_shows_the_position(client, login, shop, ann):
    now = timezone.now()
    flow = a_flow_with_an_email(shop, now, [ann])
    login(MARKETER)

    response = client.get(url(ann))

    html = response.content.decode()
    link = reverse("admin:campaigns_flow_change", args=[flow.pk])
    assert f'flow <a href="{link}">Welcome series</a>, step 2, variant A' in html
    [run] = response.context["flow_runs"]
    assert (run.status, run.step_number, run.step.kind) == (RunStatus.ACTIVE, 4, StepKind.ADD_TAG)
    panel = html[html.index('id="c360-flows"') : html.index("<h2>Timeline</h2>")]
    assert f'<a href="{link}">Welcome series</a>' in panel and "4. Add a tag" in panel and "In the flow" in panel
    assert (run.due_at - run.at_step_since) == timedelta(days=1)  # waits a day from the step before it


def test_a_customer_held_out_has_an_entry_saying_they_got_nothing(admin_client, shop):
    customers = mailable(shop, 30)
    campaign = a_campaign(shop, holdout_percent=50)
    email_send(email=campaign.email, customer_ids=[c.pk for c in customers])
    held = Send.objects.filter(email=campaign.email, variant__isnull=True).first()
    got = Send.objects.filter(email=campaign.email, variant__isnull=False).first()
    assert held is not None and got is not None  # 30 draws at a half: both kinds

    held_page = admin_client.get(url(held.customer))
    got_page = admin_client.get(url(got.customer))

    assert [e.obj for e in entries(held_page, "holdout")] == [held] and not entries(held_page, "email")
    link = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    assert (
        f'Nothing sent: drawn into the holdout of <span class="purpose">campaign <a href="{link}">Spring sale</a>'
        in (held_page.content.decode())
    )
    assert not entries(got_page, "holdout") and len(entries(got_page, "email")) == 1
    assert [e.kind for e in entries(held_page, "holdout")] == [
        e.kind for e in admin_client.get(url(held.customer) + "?type=email").context["page"].object_list
    ]


def test_held_out_entries_need_the_email_log(client, login, django_user_model, shop):
    from django.contrib.auth.models import Permission

    customers = mailable(shop, 30)
    campaign = a_campaign(shop, holdout_percent=50)
    email_send(email=campaign.email, customer_ids=[c.pk for c in customers])
    held = Send.objects.filter(variant__isnull=True).first().customer
    reader = django_user_model.objects.create_user("reader", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_customer360"))
    client.force_login(reader)

    response = client.get(url(held))

    assert response.status_code == 200 and not entries(response, "holdout")


def test_finished_runs_come_after_the_current_ones_with_why_they_ended(admin_client, shop, ann):
    now = timezone.now()
    current = a_flow_with_an_email(shop, now, [ann], name="Welcome series")
    ended = a_flow_with_an_email(shop, now, [ann], name="Win-back")
    FlowRun.objects.filter(flow=ended).update(
        status=RunStatus.EXITED, exit_reason="placed an order", finished_at=now, step=None
    )
    FlowRun.objects.filter(flow=current).update(entered_at=now - timedelta(days=30))  # older, but still in it

    response = admin_client.get(url(ann))

    assert [(r.flow.name, r.status) for r in response.context["flow_runs"]] == [
        ("Welcome series", RunStatus.ACTIVE),
        ("Win-back", RunStatus.EXITED),
    ]
    assert ": placed an order" in response.content.decode()


def test_the_page_costs_the_same_queries_with_many_sends_and_runs(admin_client, shop, ann, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    now = timezone.now()
    a_flow_with_an_email(shop, now, [ann], name="Flow 0")
    email_send(email=a_campaign(shop, name="Campaign 0").email, customer_ids=[ann.pk])
    admin_client.get(url(ann))  # the session's first request costs more (the user, the session)
    with CaptureQueriesContext(connection) as small:
        admin_client.get(url(ann))
    for i in range(1, 6):
        a_flow_with_an_email(shop, now, [ann], name=f"Flow {i}")
        email_send(email=a_campaign(shop, name=f"Campaign {i}", holdout_percent=50).email, customer_ids=[ann.pk])
    with django_assert_num_queries(len(small)):
        response = admin_client.get(url(ann))
    assert len(response.context["flow_runs"]) == 6
    shown = entries(response, "email") + entries(response, "holdout")
    assert len(shown) == 12 and all((e.send or e.obj).email.name for e in shown)


def test_the_panel_shows_at_most_twenty_passes_the_current_one_first(admin_client, shop, ann):
    now = timezone.now()
    flow = a_flow_with_an_email(shop, now, [ann])
    FlowRun.objects.bulk_create(
        FlowRun(
            flow=flow,
            customer=ann,
            trigger_key=f"event:past-{i}",
            triggered_at=now - timedelta(days=i + 1),
            entered_at=now - timedelta(days=i + 1),
            due_at=now - timedelta(days=i + 1),
            status=RunStatus.COMPLETED,
            finished_at=now - timedelta(days=i),
        )
        for i in range(25)
    )

    runs = admin_client.get(url(ann)).context["flow_runs"]

    assert len(runs) == 20 and runs[0].status == RunStatus.ACTIVE
    assert [r.trigger_key for r in runs[1:4]] == ["event:past-0", "event:past-1", "event:past-2"]
