"""Flows in the admin: the list with its counts, the flow page drawing the steps with how
many are at each, steps edited in place, added and reordered, and switching on (asked
twice, and only for those allowed: an agent cannot)."""

import html
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.flows.engine import flows_pass
from campaigns.models import Email, Flow, FlowStep, Send, StepKind, TriggerKind, Variant
from campaigns.tests.flow_helpers import SEND, WAIT, a_flow, an_email, mailable, shop_with_sender, switch_on
from crm.roles import MARKETER, SUPPORT_AGENT
from customers.models import Event
from customers.tests.factories import OrderFactory
from tests.page_text import text_of, texts_of

pytestmark = pytest.mark.django_db

# The flow page's queries for each send step: the step form's first variant, then its report
# (campaigns.experiments.report): the arms' counts, the variants, the attribution window,
# the arms' outcomes in it, the campaign-winner check, the variants' weights and the
# revenue credited to the email under each model.
PER_SEND_STEP = 8


def signed_in(django_user_model, role: str) -> Client:
    user = django_user_model.objects.create_user(role.lower().replace(" ", "_"), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def busy_flow():
    """A flow with three customers through its wait step and waiting at its send step."""
    shop = shop_with_sender()
    customers = mailable(shop, 3)
    flow = a_flow(
        shop,
        TriggerKind.EVENT,
        {"event_type": "go"},
        [(WAIT, {"minutes": 1440}), (SEND, {}, an_email(shop, subject="Hi {{ customer.first_name }}"))],
    )
    flow.name = "Cart reminder"
    flow.save()
    switch_on(flow, timezone.now())
    for c in customers:
        Event.objects.create(shop=shop, customer=c, type="go", occurred_at=timezone.now())
    flows_pass(now=timezone.now())
    return flow


def test_the_list_shows_status_trigger_and_counts(django_user_model, busy_flow, django_assert_max_num_queries):
    client = signed_in(django_user_model, MARKETER)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("admin:campaigns_flow_changelist"))
    assert page.status_code == 200
    [row] = [r for r in texts_of(page, ".result-row") or texts_of(page, "#result_list") if "Cart reminder" in r]
    assert "An event (e.g. cart abandoned)" in row and " On " in f" {row} " and " 3 " in f" {row} "


def test_the_flow_page_draws_the_steps_with_who_is_where(django_user_model, busy_flow):
    client = signed_in(django_user_model, MARKETER)
    page = client.get(reverse("admin:campaigns_flow_change", args=[busy_flow.pk]))
    assert page.status_code == 200
    wait, send = texts_of(page, ".flow-step")
    assert wait.startswith("1. Wait 1 d") and wait.endswith("0 here now · 3 passed")
    assert send.startswith("2. Send email") and send.endswith("3 here now · 0 passed · A/B results")


def management(prefix: str, total: int, initial: int) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def flow_fields(flow: Flow) -> dict:
    return {
        "name": flow.name,
        "shop": flow.shop_id,
        "description": flow.description,
        "trigger": flow.trigger,
        "trigger_params": '{"event_type": "go"}',
        "exit_on_order": "on",
        "exit_on_unsubscribe": "on",
        "reentry": "once",
        "reentry_days": "30",
    }


def test_steps_are_edited_in_place_added_and_reordered(django_user_model, busy_flow):
    client = signed_in(django_user_model, MARKETER)
    wait, send = busy_flow.steps.order_by("position")
    prefix = "steps"
    data = {
        **flow_fields(busy_flow),
        **management(prefix, 3, 2),
        f"{prefix}-0-id": wait.pk,
        f"{prefix}-0-flow": busy_flow.pk,
        f"{prefix}-0-position": "1",
        f"{prefix}-0-kind": "wait",
        f"{prefix}-0-params": '{"minutes": 120}',
        f"{prefix}-1-id": send.pk,
        f"{prefix}-1-flow": busy_flow.pk,
        f"{prefix}-1-position": "2",
        f"{prefix}-1-kind": "send_email",
        f"{prefix}-1-params": "{}",
        f"{prefix}-1-subject": "Still there, {{ customer.first_name }}?",
        f"{prefix}-1-body": "<p>Your cart misses you.</p>",
        f"{prefix}-1-holdout_percent": "10",
        f"{prefix}-1-winner_metric": "clicks",
        f"{prefix}-1-min_uplift_percent": "30",
        f"{prefix}-2-flow": busy_flow.pk,
        f"{prefix}-2-position": "0",
        f"{prefix}-2-kind": "add_tag",
        f"{prefix}-2-params": '{"tag": "cart"}',
    }
    response = client.post(reverse("admin:campaigns_flow_change", args=[busy_flow.pk]), data)

    assert response.status_code == 302, response.content.decode()[-3000:]
    steps = list(busy_flow.steps.order_by("position"))
    assert [s.kind for s in steps] == [StepKind.ADD_TAG, StepKind.WAIT, StepKind.SEND_EMAIL]
    assert steps[1].params == {"minutes": 120}
    email = steps[2].email
    assert email.pk == send.email_id and email.holdout_percent == 10
    assert (email.winner_metric, email.min_uplift_percent) == ("clicks", 30)
    assert email.variants.get(label="A").subject == "Still there, {{ customer.first_name }}?"


def test_a_bad_step_is_refused_on_its_field(django_user_model, busy_flow):
    client = signed_in(django_user_model, MARKETER)
    data = {
        **flow_fields(busy_flow),
        **management("steps", 1, 0),
        "steps-0-flow": busy_flow.pk,
        "steps-0-position": "5",
        "steps-0-kind": "wait",
        "steps-0-params": '{"minutes": -3}',
    }
    response = client.post(reverse("admin:campaigns_flow_change", args=[busy_flow.pk]), data)

    assert response.status_code == 200
    assert "minutes is a whole number from 1" in response.content.decode()
    assert FlowStep.objects.filter(flow=busy_flow).count() == 2


def test_two_steps_at_one_position_are_refused(django_user_model, busy_flow):
    client = signed_in(django_user_model, MARKETER)
    wait, send = busy_flow.steps.order_by("position")
    data = {
        **flow_fields(busy_flow),
        **management("steps", 3, 2),
        "steps-0-id": wait.pk,
        "steps-0-flow": busy_flow.pk,
        "steps-0-position": str(wait.position),
        "steps-0-kind": "wait",
        "steps-0-params": '{"minutes": 60}',
        "steps-1-id": send.pk,
        "steps-1-flow": busy_flow.pk,
        "steps-1-position": str(send.position),
        "steps-1-kind": "send_email",
        "steps-1-params": "{}",
        "steps-1-subject": "Hi",
        "steps-1-body": "<p>Hi</p>",
        "steps-2-flow": busy_flow.pk,
        "steps-2-position": str(send.position),
        "steps-2-kind": "add_tag",
        "steps-2-params": '{"tag": "twice"}',
    }
    response = client.post(reverse("admin:campaigns_flow_change", args=[busy_flow.pk]), data)

    assert response.status_code == 200
    assert f"Step 2 is at position {send.position} too" in response.content.decode()
    assert FlowStep.objects.filter(flow=busy_flow).count() == 2


@pytest.mark.parametrize(
    ("kind", "params", "says"),
    [
        ("open_ticket", '{"subject": "a\\u0000", "body": "b"}', "subject: Control characters (such as NUL)"),
        ("wait", '{"minutes": 5, "note": {"x\\u0000": 1}}', "note.x\\x00: Control characters"),
        ("reward_code", '{"reward_id": 987654}', "reward_id: no such reward on offer in this flow"),
    ],
)
def test_control_characters_and_an_unknown_reward_are_refused(django_user_model, busy_flow, kind, params, says):
    client = signed_in(django_user_model, MARKETER)
    data = {
        **flow_fields(busy_flow),
        **management("steps", 1, 0),
        "steps-0-flow": busy_flow.pk,
        "steps-0-position": "5",
        "steps-0-kind": kind,
        "steps-0-params": params,
    }
    response = client.post(reverse("admin:campaigns_flow_change", args=[busy_flow.pk]), data)

    assert response.status_code == 200
    assert says in html.unescape(response.content.decode())
    assert FlowStep.objects.filter(flow=busy_flow).count() == 2


def test_a_trigger_with_a_control_character_is_refused(django_user_model, busy_flow):
    client = signed_in(django_user_model, MARKETER)
    data = {
        **flow_fields(busy_flow),
        "trigger_params": '{"event_type": "cart\\u0000", "delay_minutes": 5}',
        **management("steps", 0, 0),
    }
    response = client.post(reverse("admin:campaigns_flow_change", args=[busy_flow.pk]), data)

    assert response.status_code == 200
    assert "event_type: Control characters (such as NUL) are not allowed." in html.unescape(response.content.decode())
    busy_flow.refresh_from_db()
    assert "\x00" not in busy_flow.trigger_params.get("event_type", "")


def test_a_marketer_switches_a_flow_on_after_confirming(django_user_model):
    shop = shop_with_sender()
    flow = a_flow(shop, TriggerKind.FIRST_ORDER, {}, [(StepKind.ADD_TAG, {"tag": "new"})])
    client = signed_in(django_user_model, MARKETER)
    url = reverse("admin:campaigns_flow_changelist")

    asked = client.post(url, {"action": "switch_on", "_selected_action": [flow.pk]})
    flow.refresh_from_db()
    assert asked.status_code == 200 and "Yes, switch on" in asked.content.decode() and not flow.active

    client.post(url, {"action": "switch_on", "_selected_action": [flow.pk], "confirm": "yes"})
    flow.refresh_from_db()
    assert flow.active and flow.activated_at is not None


def test_an_agent_cannot_switch_a_flow_on(django_user_model):
    shop = shop_with_sender()
    flow = a_flow(shop, TriggerKind.FIRST_ORDER, {}, [(StepKind.ADD_TAG, {"tag": "new"})])
    client = signed_in(django_user_model, SUPPORT_AGENT)

    response = client.post(
        reverse("admin:campaigns_flow_changelist"),
        {"action": "switch_on", "_selected_action": [flow.pk], "confirm": "yes"},
    )

    assert response.status_code == 403
    flow.refresh_from_db()
    assert not flow.active
    assert client.get(reverse("admin:campaigns_flow_change", args=[flow.pk])).status_code == 403


def test_removing_a_step_on_the_page_moves_its_customers_on(django_user_model, busy_flow):
    client = signed_in(django_user_model, MARKETER)
    wait, send = busy_flow.steps.order_by("position")
    data = {
        **flow_fields(busy_flow),
        **management("steps", 2, 2),
        "steps-0-id": wait.pk,
        "steps-0-flow": busy_flow.pk,
        "steps-0-position": "0",
        "steps-0-kind": "wait",
        "steps-0-params": '{"minutes": 1440}',
        "steps-1-id": send.pk,
        "steps-1-flow": busy_flow.pk,
        "steps-1-position": "1",
        "steps-1-kind": "send_email",
        "steps-1-params": "{}",
        "steps-1-subject": "Hi",
        "steps-1-body": "<p>Hi</p>",
        "steps-1-DELETE": "on",
    }
    response = client.post(reverse("admin:campaigns_flow_change", args=[busy_flow.pk]), data)

    assert response.status_code == 302
    assert list(busy_flow.steps.values_list("kind", flat=True)) == ["wait"]
    assert set(busy_flow.runs.values_list("status", flat=True)) == {"completed"}


def test_a_flow_with_no_step_or_a_bad_one_is_not_switched_on(django_user_model):
    shop = shop_with_sender()
    empty = a_flow(shop, TriggerKind.FIRST_ORDER, {}, [])
    bad = a_flow(shop, TriggerKind.FIRST_ORDER, {}, [(StepKind.ADD_TAG, {"tag": ""})])
    client = signed_in(django_user_model, MARKETER)

    response = client.post(
        reverse("admin:campaigns_flow_changelist"),
        {"action": "switch_on", "_selected_action": [empty.pk, bad.pk], "confirm": "yes"},
        follow=True,
    )

    page = response.content.decode()
    assert "A flow needs a step before it is switched on." in page and "tag is a name" in page
    assert not Flow.objects.filter(active=True).exists()


# -- A/B results of the send steps, and their variants ------------------------------------


def ab_flow(n_customers: int, n_sends: int):
    """An event flow of ``n_sends`` send steps, each an email with variants A and B and a 20 %
    holdout, every customer through every step."""
    shop = shop_with_sender()
    customers = mailable(shop, n_customers)
    steps = []
    for i in range(n_sends):
        email = an_email(shop, subject=f"A{i} {{{{ customer.first_name }}}}")
        Variant.objects.create(email=email, label="B", subject=f"B{i}", body="<p>B</p>")
        Email.objects.filter(pk=email.pk).update(holdout_percent=20)
        steps.append((SEND, {}, email))
    flow = a_flow(shop, TriggerKind.EVENT, {"event_type": "go"}, steps)
    now = timezone.now()
    switch_on(flow, now)
    for c in customers:
        Event.objects.create(shop=shop, customer=c, type="go", occurred_at=now)
    flows_pass(now=now)
    return flow, customers


def test_each_send_step_shows_its_variants_and_holdout_with_conversions(django_user_model):
    flow, customers = ab_flow(30, 1)
    [step] = flow.steps.all()
    sends = {s.customer_id: s for s in Send.objects.filter(email=step.email)}
    assert len(sends) == 30
    buyers = [c for c in customers if sends[c.pk].variant_id is not None][:2]
    for c in buyers:
        OrderFactory(shop=flow.shop, customer=c, placed_at=timezone.now() + timedelta(hours=2))
    arms = {"A": 0, "B": 0, "holdout": 0}
    for s in sends.values():
        arms[s.variant.label if s.variant_id else "holdout"] += 1
    converted = {"A": 0, "B": 0, "holdout": 0}
    for c in buyers:
        converted[sends[c.pk].variant.label] += 1

    page = signed_in(django_user_model, MARKETER).get(reverse("admin:campaigns_flow_change", args=[flow.pk]))

    [results] = texts_of(page, f"#results-step-{step.pk}")
    assert results.startswith("Step 1. Send email — results per variant")
    for label in ("A", "B", "holdout"):
        [row] = texts_of(page, f".arm-{label.lower()}")
        cells = row.split(" ")
        assert cells[0] == label and int(cells[1]) == arms[label]  # customers drawn
        assert f"{converted[label]} (" in row
    assert "Not enough data yet" in text_of(page, ".report-verdict")
    assert "variants, weights and A/B settings" in results


def test_the_flow_page_costs_a_fixed_number_of_queries_per_send_step(django_user_model, django_assert_num_queries):
    """However many runs and sends: a base plus a fixed cost per send step (its report)."""
    client = signed_in(django_user_model, MARKETER)
    counts = {}
    for n_customers, n_sends in ((3, 1), (12, 1), (12, 2)):
        flow, _ = ab_flow(n_customers, n_sends)
        url = reverse("admin:campaigns_flow_change", args=[flow.pk])
        client.get(url)  # warm the per-process caches (content types, the session)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts[(n_customers, n_sends)] = len(queries)
    per_step = counts[(12, 2)] - counts[(12, 1)]
    assert counts[(3, 1)] == counts[(12, 1)]  # more runs and sends cost nothing more
    assert per_step == PER_SEND_STEP
    flow, _ = ab_flow(5, 3)
    with django_assert_num_queries(counts[(12, 1)] + 2 * PER_SEND_STEP):
        client.get(reverse("admin:campaigns_flow_change", args=[flow.pk]))


def test_a_marketer_adds_variant_b_on_the_emails_page_and_an_agent_cannot(django_user_model, busy_flow):
    send = busy_flow.steps.get(kind=SEND)
    email = send.email
    [a] = email.variants.all()
    url = reverse("admin:campaigns_email_change", args=[email.pk])
    flow_page = signed_in(django_user_model, MARKETER).get(reverse("admin:campaigns_flow_change", args=[busy_flow.pk]))
    assert url in flow_page.content.decode()
    data = {
        "holdout_percent": "10",
        "winner_metric": "revenue",
        "min_uplift_percent": "15",
        **management("variants", 2, 1),
        "variants-0-id": a.pk,
        "variants-0-email": email.pk,
        "variants-0-label": "A",
        "variants-0-weight": "1",
        "variants-0-subject": a.subject,
        "variants-0-body": a.body,
        "variants-1-email": email.pk,
        "variants-1-label": "B",
        "variants-1-weight": "2",
        "variants-1-subject": "Short",
        "variants-1-body": "<p>B {{ customer.first_name }}</p>",
    }

    agent = signed_in(django_user_model, SUPPORT_AGENT)
    assert agent.get(url).status_code == 403 and agent.post(url, data).status_code == 403
    assert email.variants.count() == 1
    marketer = Client()
    marketer.force_login(django_user_model.objects.get(username="marketer"))
    response = marketer.post(url, data)

    assert response.status_code == 302, response.content.decode()[-2000:]
    assert (
        response["Location"].endswith(f"/#results-step-{send.pk}") or f"#results-step-{send.pk}" in response["Location"]
    )
    email.refresh_from_db()
    assert (email.holdout_percent, email.winner_metric, email.min_uplift_percent) == (10, "revenue", 15)
    assert [(v.label, v.weight, v.subject) for v in email.variants.order_by("id")] == [
        ("A", 1, a.subject),
        ("B", 2, "Short"),
    ]


def test_a_variant_with_sends_is_not_deleted_but_the_form_says_why(django_user_model):
    flow, _ = ab_flow(10, 1)
    email = flow.steps.get().email
    a, b = email.variants.order_by("id")
    data = {
        "holdout_percent": "20",
        "winner_metric": "conversions",
        "min_uplift_percent": "20",
        **management("variants", 2, 2),
        **{
            f"variants-{i}-{k}": v
            for i, x in enumerate((a, b))
            for k, v in (
                ("id", x.pk),
                ("email", email.pk),
                ("label", x.label),
                ("weight", "1"),
                ("subject", x.subject),
                ("body", x.body),
            )
        },
        "variants-1-DELETE": "on",
    }
    client = signed_in(django_user_model, MARKETER)
    response = client.post(reverse("admin:campaigns_email_change", args=[email.pk]), data)

    assert response.status_code == 200
    assert "protected" in response.content.decode()
    assert email.variants.count() == 2


def test_the_emails_page_lists_only_flows_emails(django_user_model, busy_flow):
    campaign_email = an_email(busy_flow.shop, subject="A campaign's")
    client = signed_in(django_user_model, MARKETER)
    assert client.get(reverse("admin:campaigns_email_change", args=[campaign_email.pk])).status_code == 302
    listed = client.get(reverse("admin:campaigns_email_changelist")).content.decode()
    assert "A campaign&#x27;s" not in listed and "A campaign's" not in listed
