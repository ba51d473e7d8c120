"""Campaigns in the admin: a marketer builds one (variants inline, each template checked),
counts its audience live, previews it for a customer of the audience, sends a test to
themselves, sends it (confirmed) and reads its results; an agent may do none of that. Query
budgets on the audience count and the list."""

import json

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from campaigns.campaigns.sending import campaigns_send_due
from campaigns.models import Campaign, CampaignStatus, Send
from campaigns.tests.campaign_data import campaign, customer, segment
from crm.roles import MARKETER, SUPPORT_AGENT
from messaging.models import MessageEvent, MessageStatus
from messaging.sending import messages_send
from messaging.tests.fixtures import branded_shop
from tests.page_text import text_of

pytestmark = pytest.mark.django_db


def signed_in(django_user_model, role: str, name: str) -> Client:
    user = django_user_model.objects.create_user(name, password="pw", is_staff=True, email=f"{name}@merchant.example")
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def marketer(django_user_model):
    return signed_in(django_user_model, MARKETER, "mia")


@pytest.fixture
def agent(django_user_model):
    return signed_in(django_user_model, SUPPORT_AGENT, "sam")


@pytest.fixture
def summer():
    shop = branded_shop()
    people = [customer(shop, first_name="Ann", email="ann@example.com"), customer(shop), customer(shop, consent=False)]
    return campaign(shop, [segment("Everyone", people)])


def new_campaign_form(shop, target, **changes) -> dict:
    form = {
        "name": "Autumn sale",
        "shop": shop.pk,
        "segments": [target.pk],
        "timing": "at",
        "send_at_0": "",
        "send_at_1": "",
        "test_percent": 20,
        "test_hours": 4,
        "holdout_percent": 10,
        "winner_metric": "clicks",
        "min_uplift_percent": "25",
        "variants-TOTAL_FORMS": 1,
        "variants-INITIAL_FORMS": 0,
        "variants-MIN_NUM_FORMS": 1,
        "variants-MAX_NUM_FORMS": 1000,
        "variants-0-label": "A",
        "variants-0-weight": 1,
        "variants-0-subject": "Autumn, {{ customer.first_name }}",
        "variants-0-preheader": "",
        "variants-0-body": "<p>Hello {{ customer.first_name }}</p>",
    }
    return {**form, **changes}


def test_a_marketer_builds_a_campaign_with_its_variant_and_holdout(marketer):
    shop = branded_shop()
    target = segment("Everyone", [customer(shop)])

    response = marketer.post(reverse("admin:campaigns_campaign_add"), new_campaign_form(shop, target))

    assert response.status_code == 302, response.content.decode()[:3000]
    made = Campaign.objects.get()
    assert (made.name, made.status, made.email.holdout_percent, made.email.shop_id) == (
        "Autumn sale",
        CampaignStatus.DRAFT,
        10,
        shop.pk,
    )
    assert list(made.email.variants.values_list("label", "subject")) == [("A", "Autumn, {{ customer.first_name }}")]
    assert (made.email.winner_metric, made.email.min_uplift_percent) == ("clicks", 25)
    assert list(made.segments.all()) == [target]


def test_a_template_tag_that_is_not_allowed_is_named_on_its_field(marketer):
    shop = branded_shop()
    target = segment("Everyone", [customer(shop)])
    form = new_campaign_form(shop, target, **{"variants-0-body": "{% load static %}hi", "timing": "local_hour"})

    response = marketer.post(reverse("admin:campaigns_campaign_add"), form)

    assert response.status_code == 200 and not Campaign.objects.exists()
    page = response.content.decode()
    assert "The tag {% load %} is not allowed here." in page
    assert "Choose the hour of the customer&#x27;s day to send at." in page


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"timing": "local_hour", "local_hour": "25"}, "local_hour", "The hour of the customer's day is from 0 to 23."),
        ({"send_at_0": "9999-12-31", "send_at_1": "23:30:00"}, "send_at", "Choose a time from 2000 to 366 days"),
        ({"send_at_0": "0001-01-01", "send_at_1": "00:00:00"}, "send_at", "Choose a time from 2000 to 366 days"),
        ({"variants-0-weight": "5000"}, "weight", "less than or equal to 1000"),
    ],
)
def test_out_of_range_hours_times_and_weights_are_refused_on_their_field(marketer, fields, field, says):
    import html

    shop = branded_shop()
    target = segment("Everyone", [customer(shop)])

    response = marketer.post(reverse("admin:campaigns_campaign_add"), new_campaign_form(shop, target, **fields))

    assert response.status_code == 200 and not Campaign.objects.exists()
    assert says in html.unescape(response.content.decode())


def test_the_preview_with_made_up_values_fills_every_name(marketer, summer):
    variant = summer.email.variants.get()
    variant.body = "<p>{{ tier }} · {{ points }} points · {{ stage }} · {{ last_order.number }}</p>"
    variant.save()
    frame = marketer.get(reverse("admin:campaigns_campaign_preview", args=[summer.pk]) + f"?variant={variant.pk}")
    assert "Gold · 1250 points · Retention · #1001" in frame.content.decode()


def test_the_live_count_is_one_query_and_says_who_is_left_out(marketer, summer, django_assert_num_queries):
    url = reverse("admin:campaigns_campaign_audience")
    body = {"shop": summer.shop_id, "segments": [summer.segments.get().pk], "excluded_segments": [], "cap_hours": None}
    # the session, the user, their permissions (two), the sending policy, and the count: one
    with django_assert_num_queries(6):
        answer = marketer.post(url, json.dumps(body), content_type="application/json")
    assert answer.json() == {
        "total": 3,
        "reachable": 2,
        "excluded": [
            {"reason": "no_email", "label": "no email address", "count": 0},
            {"reason": "not_a_customer", "label": "not a customer of this shop", "count": 0},
            {"reason": "no_consent", "label": "no marketing consent for this shop", "count": 1},
            {"reason": "suppressed", "label": "suppressed (bounced, complained or unsubscribed)", "count": 0},
            {"reason": "recently_mailed", "label": "had a marketing email within the frequency cap", "count": 0},
        ],
    }
    bad = marketer.post(url, json.dumps({**body, "segments": ["x"], "cap_hours": -1}), content_type="application/json")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"segments", "cap_hours"}
    assert marketer.post(url, b"{nope", content_type="application/json").status_code == 400


def test_the_page_previews_a_customer_of_the_audience_and_sends_a_test_to_oneself(marketer, summer, smtp):
    change = reverse("admin:campaigns_campaign_change", args=[summer.pk])
    page = marketer.get(change + "?customer=ann@example.com")
    assert "Reaches 2 of 3 customers" in text_of(page.content.decode(), "#audience")
    assert "As Ann" in text_of(page.content.decode(), "#preview")
    variant = summer.email.variants.get()
    frame = marketer.get(
        reverse("admin:campaigns_campaign_preview", args=[summer.pk])
        + f"?variant={variant.pk}&customer=ann@example.com"
    )
    assert "Dear Ann, ten per cent off." in frame.content.decode()
    assert frame.headers["Content-Security-Policy"].startswith("sandbox")
    outsider = marketer.get(change + "?customer=nobody@example.com").content.decode()
    assert "is not in this campaign" in outsider

    marketer.post(
        reverse("admin:campaigns_campaign_test", args=[summer.pk]),
        {"variant": variant.pk, "customer": "ann@example.com"},
    )
    messages_send()
    [wire] = smtp.messages()
    assert wire["To"] == "mia@merchant.example" and wire["Subject"] == "A: hello Ann"


def test_an_agent_may_not_see_or_send_a_campaign_and_a_marketer_may(
    agent, marketer, summer, smtp, django_capture_on_commit_callbacks, any_hour
):
    send_now = reverse("admin:campaigns_campaign_send_now", args=[summer.pk])
    assert agent.get(send_now).status_code == 403
    assert agent.post(send_now).status_code == 403
    assert agent.get(reverse("admin:campaigns_campaign_changelist")).status_code == 403
    assert Campaign.objects.get().status == CampaignStatus.DRAFT

    confirm = marketer.get(send_now)
    assert "Send now: “Summer sale”?" in confirm.content.decode()
    assert Campaign.objects.get().status == CampaignStatus.DRAFT  # asking is not sending
    with django_capture_on_commit_callbacks(execute=True):
        marketer.post(send_now)
    messages_send()
    assert Campaign.objects.get().status == CampaignStatus.SENT  # the pass ran after the commit
    assert sorted(m["To"] for m in smtp.messages()) == [
        "ann@example.com",
        summer.segments.get().memberships.order_by("customer_id")[1].customer.email,
    ]


def test_a_sent_campaign_is_read_not_edited_and_shows_its_results(
    marketer, summer, django_assert_max_num_queries, any_hour
):
    summer.status = CampaignStatus.SCHEDULED
    summer.send_at = summer.created_at
    summer.save()
    campaigns_send_due()
    first = Send.objects.order_by("customer_id").first()
    MessageEvent.objects.create(message_id=first.message_id, status=MessageStatus.CLICKED, at=first.assigned_at)

    page = marketer.get(reverse("admin:campaigns_campaign_change", args=[summer.pk])).content.decode()
    results = text_of(page, "#results")
    # One variant, no holdout: no comparison and no chance to be best; no order yet.
    assert "A 2 2 0 0 1 1 0 0 (0.0 %) 0.00 USD – – –" in results
    assert 'name="name"' not in page  # read-only
    assert "Send now" not in text_of(page, ".campaign-status")

    with django_assert_max_num_queries(12):
        listing = marketer.get(reverse("admin:campaigns_campaign_changelist")).content.decode()
    assert "opens (unreliable)" in listing and "Sent" in listing


def test_the_results_show_the_revenue_the_attribution_credits_under_each_model(marketer, summer, any_hour):
    from datetime import timedelta
    from decimal import Decimal

    from campaigns.attribution.passes import attribution_run
    from customers.tests.factories import OrderFactory

    summer.status = CampaignStatus.SCHEDULED
    summer.send_at = summer.created_at
    summer.save()
    campaigns_send_due()
    first = Send.objects.order_by("customer_id").first()
    clicked_at = first.assigned_at + timedelta(minutes=5)
    MessageEvent.objects.create(message_id=first.message_id, status=MessageStatus.CLICKED, at=clicked_at)
    OrderFactory(customer=first.customer, placed_at=clicked_at + timedelta(hours=1), total=Decimal("40.00"))
    attribution_run()

    page = marketer.get(reverse("admin:campaigns_campaign_change", args=[summer.pk])).content.decode()

    attributed = text_of(page, ".report-attributed")
    assert "net of refunds, USD" in attributed
    assert "Last click 40.00 · First click 40.00 · Linear 40.00 · Time decay 40.00" in attributed


def test_a_marketer_schedules_and_cancels_and_an_agent_may_not_cancel(marketer, agent, summer):
    from datetime import timedelta

    from django.utils import timezone

    summer.send_at = timezone.now() + timedelta(days=1)
    summer.save()
    schedule = reverse("admin:campaigns_campaign_schedule", args=[summer.pk])
    assert "(counted again when it goes" in marketer.get(schedule).content.decode()
    marketer.post(schedule)
    assert Campaign.objects.get().status == CampaignStatus.SCHEDULED

    cancel = reverse("admin:campaigns_campaign_cancel", args=[summer.pk])
    assert agent.post(cancel).status_code == 403
    assert Campaign.objects.get().status == CampaignStatus.SCHEDULED
    marketer.post(cancel)
    assert Campaign.objects.get().status == CampaignStatus.CANCELLED
    again = marketer.post(cancel, follow=True).content.decode()
    assert "there is nothing to cancel" in again
