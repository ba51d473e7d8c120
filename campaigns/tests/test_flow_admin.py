"""Flows in the admin: the list with its counts, the flow page drawing the steps with how
many are at each, steps edited in place, added and reordered, and switching on (asked
twice, and only for those allowed: an agent cannot)."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.flows.engine import flows_pass
from campaigns.models import Flow, FlowStep, StepKind, TriggerKind
from campaigns.tests.flow_helpers import SEND, WAIT, a_flow, an_email, mailable, shop_with_sender, switch_on
from crm.roles import MARKETER, SUPPORT_AGENT
from customers.models import Event
from tests.page_text import texts_of

pytestmark = pytest.mark.django_db


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
    assert send.startswith("2. Send email") and send.endswith("3 here now · 0 passed")


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
