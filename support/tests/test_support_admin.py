"""The support admin: every list opens, business hours are checked, reviews are moderated."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.errors import DomainError
from customers.models import Product
from customers.tests.factories import CustomerFactory, ShopFactory
from support.escalation import sla_sweep
from support.models import BusinessHours, CsatResponse, Macro, Review, SlaPolicy, Team, Ticket
from support.tickets import TicketData, ticket_open, ticket_reply

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "model",
    [
        "ticket",
        "slapolicy",
        "businesshours",
        "team",
        "review",
        "reviewmoderation",
        "npsresponse",
        "macro",
        "csatresponse",
    ],
)
def test_every_support_list_opens(admin_client, model):
    ticket_open(customer=CustomerFactory(), data=TicketData(subject="Help", body="Hi"))
    assert admin_client.get(reverse(f"admin:support_{model}_changelist")).status_code == 200


def test_a_ticket_page_shows_its_thread(admin_client):
    ticket, _ = ticket_open(customer=CustomerFactory(), data=TicketData(subject="Help", body="<b>Parcel</b> lost"))
    page = admin_client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    assert "Parcel" in page and "lost" in page


def hours_form(name="Office", time_zone="UTC", holidays="", **days):
    """The business-hours form as the browser posts it: ``mon=("09:00", "17:00")`` … per open day."""
    data = {"name": name, "time_zone": time_zone, "holidays": holidays}
    for day, key in enumerate(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]):
        opens, closes = days.get(key, ("", ""))
        data[f"weekly_{2 * day}"], data[f"weekly_{2 * day + 1}"] = opens, closes
    return data


def test_business_hours_are_a_form_of_times_per_weekday_and_closed_dates(admin_client):
    add = reverse("admin:support_businesshours_add")
    page = admin_client.get(add).content.decode()
    assert page.count('type="time"') == 14 and 'value="09:00"' in page  # Monday to Friday prefilled
    response = admin_client.post(
        add,
        hours_form(
            time_zone="Europe/Berlin",
            holidays="2026-12-25\n2026-12-24, 2026-12-25",
            mon=("09:00", "17:00"),
            tue=("09:00", "17:00"),
            sat=("10:00", "14:00"),
        ),
    )
    assert response.status_code == 302
    hours = BusinessHours.objects.get()
    # The JSON the SLA clock reads (support.sla.Calendar.parse), unchanged.
    assert hours.weekly == {"0": ["09:00", "17:00"], "1": ["09:00", "17:00"], "5": ["10:00", "14:00"]}
    assert hours.holidays == ["2026-12-24", "2026-12-25"]
    listed = admin_client.get(reverse("admin:support_businesshours_changelist")).content.decode()
    assert "Mon–Tue 09:00–17:00; Sat 10:00–14:00" in listed
    page = admin_client.get(reverse("admin:support_businesshours_change", args=[hours.pk])).content.decode()
    assert 'value="10:00"' in page and "2026-12-24\n2026-12-25</textarea>" in page


def test_business_hours_open_until_midnight_or_all_day(admin_client):
    add = reverse("admin:support_businesshours_add")
    response = admin_client.post(
        add, hours_form(fri=("18:00", "00:00"), sat=("00:00", "00:00"), sun=("00:00", "00:00"))
    )
    assert response.status_code == 302
    hours = BusinessHours.objects.get()
    assert hours.weekly == {"4": ["18:00", "24:00"], "5": ["00:00", "24:00"], "6": ["00:00", "24:00"]}
    listed = admin_client.get(reverse("admin:support_businesshours_changelist")).content.decode()
    assert "Fri 18:00–24:00; Sat–Sun all day" in listed
    page = admin_client.get(reverse("admin:support_businesshours_change", args=[hours.pk])).content.decode()
    assert page.count('value="00:00"') == 5  # 24:00 shows as closing 00:00 in the time inputs


@pytest.mark.parametrize(
    "form,field,message",
    [
        (
            hours_form(mon=("17:00", "09:00")),
            "weekly",
            "Monday: closing time 09:00 must come after opening time 17:00.",
        ),
        (hours_form(tue=("09:00", "")), "weekly", "Tuesday: give both the opening and the closing time"),
        (hours_form(), "weekly", "Open on at least one weekday"),
        (hours_form(mon=("9am", "17:00")), "weekly", "Enter a valid time."),
        (hours_form(mon=("09:00", "17:00"), holidays="2026-02-30\n25/12/2026"), "holidays", "2026-02-30, 25/12/2026"),
        (hours_form(mon=("09:00", "17:00"), time_zone="Mars/Base"), "time_zone", "unknown time zone"),
    ],
)
def test_business_hours_that_cannot_work_are_refused_on_their_field(admin_client, form, field, message):
    response = admin_client.post(reverse("admin:support_businesshours_add"), form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field] and len(errors[field]) == 1 and message in errors[field][0]  # said once, there
    assert not BusinessHours.objects.exists()


def test_reviews_are_published_or_rejected_in_bulk(admin_client):
    shop = ShopFactory()
    product = Product.objects.create(shop=shop, sku="MUG-1", name="Mug")
    reviews = [
        Review.objects.create(
            shop=shop, customer=CustomerFactory(), product=product, rating=4, created_at="2026-11-01T00:00Z"
        )
        for _ in range(2)
    ]
    url = reverse("admin:support_review_changelist")
    admin_client.post(url, {"action": "publish", "_selected_action": [reviews[0].pk]})
    admin_client.post(url, {"action": "reject", "_selected_action": [reviews[1].pk]})
    assert [r.status for r in Review.objects.order_by("pk")] == ["published", "rejected"]


def ticket_form(ticket, **changes):
    """The ticket page's form as the browser posts it."""
    data = {
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "channel": ticket.channel,
        "assignee": "",
        "team": "",
        "customer": ticket.customer_id,
        "order": "",
        "review": "",
        "csat": "",
        "external_id": "",
        "shop": "",
        "reply": "",
        "reply_as": "public",
        "macro": "",
        "merge_into": "",
        "messages-TOTAL_FORMS": "0",
        "messages-INITIAL_FORMS": "0",
    }
    return {**data, **changes}


def open_for(customer, subject="Help"):
    return ticket_open(customer=customer, data=TicketData(subject=subject, body="Hi"))[0]


def test_a_reply_past_the_message_limit_is_refused_on_its_field(admin_client):
    ticket = open_for(CustomerFactory())
    url = reverse("admin:support_ticket_change", args=[ticket.pk])

    response = admin_client.post(url, ticket_form(ticket, reply="x" * 50_001))

    assert response.status_code == 200
    assert "reply" in response.context["adminform"].form.errors
    assert ticket.messages.count() == 1  # only the customer's first message


def test_the_service_refuses_a_message_past_the_limit_naming_the_body():
    ticket = open_for(CustomerFactory())
    with pytest.raises(DomainError) as refused:
        ticket_reply(ticket=ticket, body="x" * 50_001)
    assert refused.value.field == "body" and ticket.messages.count() == 1


def test_an_agent_replies_and_sets_pending_from_the_ticket_page(admin_client, admin_user):
    ticket = open_for(CustomerFactory())
    page = reverse("admin:support_ticket_change", args=[ticket.pk])
    response = admin_client.post(page, ticket_form(ticket, reply="On its way", status="pending"))
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "pending" and ticket.first_responded_at is not None
    reply = ticket.messages.last()
    assert (reply.body, reply.author, reply.public) == ("On its way", admin_user, True)


def test_a_macro_and_a_merge_from_the_ticket_page(admin_client):
    customer = CustomerFactory(first_name="Ada")
    first, second = open_for(customer, "One"), open_for(customer, "Two")
    macro = Macro.objects.create(name="Thanks", body="Thanks {{ first_name }}", set_status="solved")
    page = reverse("admin:support_ticket_change", args=[second.pk])
    assert admin_client.post(page, ticket_form(second, macro=macro.pk, merge_into=first.pk)).status_code == 302
    second.refresh_from_db()
    assert second.status == "closed" and second.merged_into == first
    assert "Thanks Ada" in list(first.messages.values_list("body", flat=True))


@pytest.mark.parametrize(
    ("target", "message"), [("999999", "There is no ticket"), ("self", "into itself"), ("other", "another customer")]
)
def test_a_merge_that_cannot_be_is_refused_naming_the_field(admin_client, target, message):
    ticket = open_for(CustomerFactory())
    number = {"self": ticket.pk, "other": open_for(CustomerFactory()).pk}.get(target, target)
    page = reverse("admin:support_ticket_change", args=[ticket.pk])
    response = admin_client.post(page, ticket_form(ticket, merge_into=number, reply="should not be sent"))
    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors["merge_into"])
    assert ticket.messages.count() == 1


def test_csat_results_show_per_agent_and_team(admin_client, admin_user):
    team = Team.objects.create(name="Front line")
    for rating in (5, 4, 1):
        ticket = open_for(CustomerFactory())
        ticket.status = Ticket.Status.SOLVED
        ticket.save()
        CsatResponse.objects.create(
            ticket=ticket,
            customer=ticket.customer,
            agent=admin_user,
            team=team,
            rating=rating,
            created_at=ticket.created_at,
        )
    response = admin_client.get(reverse("admin:support_csatresponse_changelist"))
    (row,) = response.context["by_agent"]
    assert (row["name"], row["answers"], round(row["mean"], 2), row["satisfied"]) == ("admin", 3, 3.33, 2)
    assert response.context["by_team"][0]["name"] == "Front line"
    assert "67 %" in response.content.decode()


def test_staff_answer_a_review_publicly(admin_client, admin_user):
    shop = ShopFactory()
    product = Product.objects.create(shop=shop, sku="MUG", name="Mug")
    review = Review.objects.create(
        shop=shop,
        customer=CustomerFactory(),
        product=product,
        rating=3,
        created_at="2026-01-01T00:00:00Z",
    )
    page = reverse("admin:support_review_change", args=[review.pk])
    response = admin_client.post(page, {"status": "published", "response": "Thank you, we are on it."})
    assert response.status_code == 302
    review.refresh_from_db()
    assert (review.response, review.responded_by, review.status) == (
        "Thank you, we are on it.",
        admin_user,
        "published",
    )
    assert review.responded_at is not None


def test_an_agent_opens_a_ticket_in_the_admin_with_its_first_message(admin_client, admin_user):
    customer = CustomerFactory()
    response = admin_client.post(
        reverse("admin:support_ticket_add"),
        {
            "customer": customer.pk,
            "order": "",
            "subject": "Called about a return",
            "channel": "phone",
            "priority": "high",
            "assignee": admin_user.pk,
            "team": "",
            "reply": "<p>Wants a label</p>",
            "messages-TOTAL_FORMS": "0",
            "messages-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert (ticket.subject, ticket.channel, ticket.priority, ticket.assignee) == (
        "Called about a return",
        "phone",
        "high",
        admin_user,
    )
    message = ticket.messages.get()
    assert (message.body, message.author_kind, message.author) == ("<p>Wants a label</p>", "agent", admin_user)


def test_a_ticket_without_a_customer_is_refused_naming_the_field(admin_client):
    response = admin_client.post(
        reverse("admin:support_ticket_add"),
        {
            "customer": "",
            "subject": "x",
            "channel": "phone",
            "priority": "normal",
            "reply": "x",
            "messages-TOTAL_FORMS": "0",
            "messages-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200 and "customer" in response.context["adminform"].form.errors
    assert not Ticket.objects.exists()


def test_a_ticket_opened_in_the_admin_for_a_high_value_customer_stays_with_the_escalation_team(admin_client):
    from customers.models import ClvModel, CustomerMetrics

    escalations = Team.objects.create(name="Tier 2", handles_escalations=True)
    ClvModel.objects.create(
        status=ClvModel.Status.FITTED,
        observation_end="2026-01-01",
        time_unit="weeks",
        clv_percentiles=[float(p) for p in range(0, 1010, 10)],
    )
    rich = CustomerFactory()
    CustomerMetrics.objects.create(
        customer=rich, clv_predicted=950, computed_at=timezone.now(), stage_since=timezone.now()
    )
    admin_client.post(
        reverse("admin:support_ticket_add"),
        {
            "customer": rich.pk,
            "subject": "Help",
            "channel": "phone",
            "priority": "normal",
            "team": "",
            "reply": "x",
            "messages-TOTAL_FORMS": "0",
            "messages-INITIAL_FORMS": "0",
        },
    )
    ticket = Ticket.objects.get()
    assert ticket.escalated_at is not None and ticket.team == escalations


def test_a_ticket_no_sla_applies_to_reads_no_sla_and_queues_after_breached_ones(admin_client):
    SlaPolicy.objects.create(name="Urgent", priority="urgent", first_response_minutes=60, resolution_minutes=240)
    customer = CustomerFactory()
    opened = timezone.now() - timedelta(days=1)
    breached, _ = ticket_open(
        customer=customer, data=TicketData(subject="Late", body="x", priority="urgent"), now=opened
    )
    unpoliced, _ = ticket_open(customer=customer, data=TicketData(subject="Whenever", body="x", priority="low"))
    sla_sweep()

    breached.refresh_from_db(), unpoliced.refresh_from_db()
    assert breached.get_sla_state_display() == "Breached"
    assert unpoliced.get_sla_state_display() == "no SLA"
    response = admin_client.get(reverse("admin:support_ticket_changelist"))
    queue = [ticket.pk for ticket in response.context["cl"].result_list]
    assert queue == [breached.pk, unpoliced.pk]
    states = re.findall(r'class="[^"]*field-sla[^"]*"[^>]*>\s*([^<]*?)\s*<', response.text)
    assert states == ["Breached", "no SLA"]
    # One "next due" column: how late the breached ticket's first response is, none for the other.
    due = re.findall(r'class="[^"]*field-next_due[^"]*"[^>]*>\s*(?:<span[^>]*>)?([^<]*?)\s*<', response.text)
    assert due == ["23\xa0hours late", "—"]
