"""Tickets: SLA clocks by policy and business hours, pausing while pending, replies,
internal notes, sanitised messages; reviews with verification, moderation and follow-up."""

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from core.errors import DomainError
from customers.models import ClvModel, CustomerMetrics, Product
from customers.tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, ShopFactory
from support.models import BusinessHours, Review, ReviewModeration, SlaPolicy, Ticket, TicketMessage
from support.reviews import ReviewData, review_submit
from support.tests import factories
from support.text import sanitise
from support.tickets import TicketData, ticket_follow_up, ticket_open, ticket_reply, ticket_set_status

pytestmark = pytest.mark.django_db

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def office():
    hours = BusinessHours.objects.create(
        name="Office", time_zone="UTC", weekly={str(d): ["09:00", "17:00"] for d in range(5)}
    )
    SlaPolicy.objects.create(
        name="Normal", priority="normal", first_response_minutes=60, resolution_minutes=480, business_hours=hours
    )
    SlaPolicy.objects.create(
        name="Normal, high value",
        priority="normal",
        value_band="high",
        first_response_minutes=15,
        resolution_minutes=120,
        business_hours=hours,
    )
    return hours


@pytest.fixture
def agent(django_user_model):
    return django_user_model.objects.create_user("agent", is_staff=True)


open_ticket = partial(factories.open_ticket, body="Hi", now=MONDAY_10)


def test_a_new_ticket_gets_its_policy_due_times_in_business_hours(office):
    ticket = open_ticket()
    assert ticket.sla_policy.name == "Normal"
    assert ticket.first_response_due_at == MONDAY_10 + timedelta(hours=1)
    assert ticket.resolution_due_at == MONDAY_10 + timedelta(days=1)  # 7 h today, 1 h Tuesday from 09:00
    assert ticket.messages.get().author_kind == TicketMessage.Author.CUSTOMER


def test_a_high_value_customer_gets_the_tighter_policy(office):
    ClvModel.objects.create(
        status=ClvModel.Status.FITTED,
        observation_end=MONDAY_10.date(),
        time_unit="weeks",
        clv_percentiles=[float(p) for p in range(0, 1010, 10)],
    )  # top 10 % from 900
    rich, modest = CustomerFactory(), CustomerFactory()
    CustomerMetrics.objects.create(customer=rich, clv_predicted=950, computed_at=MONDAY_10, stage_since=MONDAY_10)
    CustomerMetrics.objects.create(customer=modest, clv_predicted=500, computed_at=MONDAY_10, stage_since=MONDAY_10)

    assert open_ticket(rich).sla_policy.name == "Normal, high value"
    assert open_ticket(modest).sla_policy.name == "Normal"


def test_pending_on_the_customer_stops_the_clock_and_it_resumes_where_it_was(office, agent):
    ticket = open_ticket()
    ticket_reply(ticket=ticket, body="Could you send a photo?", user=agent, now=MONDAY_10 + timedelta(minutes=30))
    ticket = ticket_set_status(ticket=ticket, status="pending", now=MONDAY_10 + timedelta(minutes=30))
    assert ticket.resolution_due_at is None and ticket.resolution_left_minutes == 450

    # The customer answers the next morning at 09:00: 450 business minutes are left from there.
    ticket_reply(ticket=ticket, body="Here it is", now=datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert ticket.resolution_due_at == datetime(2026, 11, 24, 16, 30, tzinfo=UTC)
    assert ticket.resolution_left_minutes is None


def test_a_follow_up_from_the_shop_moves_the_clock_exactly_as_a_customer_reply_in_the_desk(office, agent):
    """Two tickets paused alike; the customer answers one in the desk and the other through the
    shop (``ticket_follow_up``, the API's): the same status and due times after, in business time."""
    tickets = []
    for _ in range(2):
        ticket = open_ticket()
        ticket_reply(ticket=ticket, body="Could you send a photo?", user=agent, now=MONDAY_10 + timedelta(minutes=30))
        tickets.append(ticket_set_status(ticket=ticket, status="pending", now=MONDAY_10 + timedelta(minutes=30)))
    answered_at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    ticket_reply(ticket=tickets[0], body="Here it is", now=answered_at)
    message, created = ticket_follow_up(ticket=tickets[1], body="Here it is", now=answered_at)

    desk, shop = (Ticket.objects.get(pk=t.pk) for t in tickets)
    fields = ("status", "resolution_due_at", "resolution_left_minutes", "first_response_met", "sla_state")
    assert [getattr(shop, f) for f in fields] == [getattr(desk, f) for f in fields]
    assert shop.resolution_due_at == datetime(2026, 11, 24, 16, 30, tzinfo=UTC)
    assert created and (message.author_kind, message.body, message.created_at) == (
        "customer",
        "Here it is",
        answered_at,
    )


def test_a_follow_up_with_a_shops_message_id_needs_a_shops_ticket():
    desk_ticket = open_ticket()  # opened in the desk: no shop, so no shop's ids to be unique among
    with pytest.raises(DomainError) as error:
        ticket_follow_up(ticket=desk_ticket, body="Hello", external_id="m-1")
    assert error.value.field == "external_id" and desk_ticket.messages.count() == 1


def test_the_first_public_agent_reply_meets_the_first_response_target(office, agent):
    ticket = open_ticket()
    ticket_reply(ticket=ticket, body="Internal: check the carrier", user=agent, public=False, now=MONDAY_10)
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None and ticket.status == "new"

    ticket_reply(ticket=ticket, body="On its way!", user=agent, now=MONDAY_10 + timedelta(minutes=20))
    ticket.refresh_from_db()
    assert ticket.first_responded_at == MONDAY_10 + timedelta(minutes=20)
    assert ticket.first_response_due_at is None and ticket.status == "open"


def test_solving_stops_the_clock_and_a_customer_reply_reopens(office):
    ticket = ticket_set_status(ticket=open_ticket(), status="solved", now=MONDAY_10 + timedelta(hours=2))
    assert ticket.solved_at == MONDAY_10 + timedelta(hours=2) and ticket.resolution_due_at is None

    ticket_reply(ticket=ticket, body="Still nothing", now=datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.solved_at is None
    assert ticket.resolution_due_at == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_whether_each_clock_met_its_target_is_kept_when_it_stops(office, agent):
    """The due times are cleared when a clock stops; whether it was met stays (the
    dashboard's SLA compliance): by the due time, or with minutes left while paused."""
    late = open_ticket()
    ticket_reply(ticket=late, body="Sorry for the wait", user=agent, now=MONDAY_10 + timedelta(minutes=61))
    late = ticket_set_status(ticket=late, status="solved", now=MONDAY_10 + timedelta(hours=3))
    assert (late.first_response_met, late.resolution_met) == (False, True)

    paused = open_ticket()
    paused = ticket_set_status(ticket=paused, status="pending", now=MONDAY_10 + timedelta(minutes=10))
    ticket_reply(ticket=paused, body="Answered while pending", user=agent, now=MONDAY_10 + timedelta(days=3))
    paused.refresh_from_db()
    assert paused.first_response_met is True  # 50 business minutes were still left

    # Reopened: a fresh resolution clock, not yet met or missed.
    ticket_reply(ticket=late, body="Still broken", now=MONDAY_10 + timedelta(hours=4))
    late.refresh_from_db()
    assert late.status == "open" and late.resolution_met is None


def test_a_ticket_without_a_policy_has_no_target_to_meet(agent):
    ticket = open_ticket(priority="low")
    ticket_reply(ticket=ticket, body="Hello", user=agent, now=MONDAY_10)
    ticket = ticket_set_status(ticket=ticket, status="solved", now=MONDAY_10)
    assert (ticket.first_response_met, ticket.resolution_met) == (None, None)


def test_customers_cannot_write_internal_notes_and_closed_tickets_stay_closed(office):
    ticket = open_ticket()
    with pytest.raises(DomainError, match="Only staff"):
        ticket_reply(ticket=ticket, body="psst", public=False)
    ticket_set_status(ticket=ticket, status="closed")
    with pytest.raises(DomainError, match="stays closed"):
        ticket_set_status(ticket=ticket, status="open")
    with pytest.raises(DomainError, match="not a ticket status"):
        ticket_set_status(ticket=ticket, status="exploded")


def test_no_policy_means_no_clock():
    ticket = open_ticket(priority="low")
    assert ticket.sla_policy is None and ticket.resolution_due_at is None


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>Hi",
        '<img src=x onerror="alert(1)">Hi',
        '<a href="javascript:alert(1)">Hi</a>',
        "<iframe src='https://evil.example'></iframe>Hi",
        "<svg onload=alert(1)>Hi</svg>",
    ],
)
def test_stored_message_html_cannot_run_script(html):
    clean = sanitise(html)
    assert "Hi" in clean
    assert not any(bad in clean.lower() for bad in ("<script", "onerror", "javascript:", "<iframe", "onload"))


def test_a_replayed_ticket_is_stored_once():
    shop, customer = ShopFactory(), CustomerFactory()
    data = TicketData(subject="Help", body="Hi", external_id="form-1")
    first, created = ticket_open(customer=customer, shop=shop, data=data)
    again, created_again = ticket_open(customer=customer, shop=shop, data=data)
    assert created and not created_again and first == again
    assert Ticket.objects.count() == 1 and TicketMessage.objects.count() == 1


def review(shop, customer, rating, **extra):
    return review_submit(shop=shop, customer=customer, data=ReviewData(sku="MUG-1", rating=rating, **extra))[0]


@pytest.fixture
def mug():
    shop = ShopFactory()
    Product.objects.create(shop=shop, sku="MUG-1", name="Mug")
    return shop


def test_a_buyers_good_review_is_published_at_once_and_verified(mug):
    buyer, stranger = CustomerFactory(), CustomerFactory()
    OrderLineFactory(order=OrderFactory(shop=mug, customer=buyer), sku="MUG-1")

    assert (review(mug, buyer, 5).status, review(mug, buyer, 5).verified_buyer) == ("published", True)
    stranger_review = review(mug, stranger, 5)
    assert (stranger_review.status, stranger_review.verified_buyer) == ("pending", False)

    ReviewModeration.objects.create(auto_publish_min_rating=None)
    assert review(mug, buyer, 4).status == "pending"  # the buyer's review, edited: moderated again


def test_a_negative_review_opens_a_follow_up_ticket(mug):
    customer = CustomerFactory()
    bad = review(mug, customer, 1, title="Broke <b>at once</b>", body="<script>x</script>Handle fell off")

    ticket = Ticket.objects.get(review=bad)
    assert ticket.customer == customer and ticket.priority == "high"
    assert "Handle fell off" in ticket.messages.get().body and "<script" not in ticket.messages.get().body
    assert review(mug, CustomerFactory(), 3).follow_up_tickets.count() == 0


def test_a_review_of_an_unknown_product_is_refused(mug):
    with pytest.raises(DomainError) as error:
        review_submit(shop=mug, customer=CustomerFactory(), data=ReviewData(sku="NOPE", rating=4))
    assert error.value.field == "sku" and Review.objects.count() == 0
