"""The customer 360 page: the header, one merged timeline (paginated, filterable, a
constant number of queries whatever the history), and the quick actions."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from campaigns.models import Segment, SegmentMembership
from crm.models import CustomerNote
from customers.models import CustomerMetrics, Event, OrderLine, StageChange, Tag
from customers.services.recompute import customers_recompute
from customers.tests.factories import CustomerFactory, OrderFactory, OrderLineFactory, RefundFactory, ShopFactory
from support.models import NpsResponse, Ticket, TicketMessage
from support.tickets import TicketData, ticket_open, ticket_reply

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def url(customer, **query):
    base = reverse("admin:crm_customer360_change", args=[customer.pk])
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@pytest.fixture
def customer():
    return CustomerFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com", marketing_consent=True)


@pytest.fixture
def story(customer, admin_user):
    """A little of everything, one day apart, oldest first."""
    shop = ShopFactory()
    order = OrderFactory(customer=customer, shop=shop, external_id="A-100", placed_at=T0)
    OrderLineFactory(order=order, sku="MUG", name="Blue mug", quantity=2)
    RefundFactory(order=order, refunded_at=T0 + timedelta(days=1), reason="chipped")
    ticket, _ = ticket_open(
        customer=customer,
        shop=shop,
        data=TicketData(subject="Chipped mug", body="<p>It arrived chipped</p>"),
        now=T0 + timedelta(days=2),
    )
    ticket_reply(
        ticket=ticket, body="Secret: refund approved", user=admin_user, public=False, now=T0 + timedelta(days=3)
    )
    NpsResponse.objects.create(customer=customer, score=9, created_at=T0 + timedelta(days=4))
    StageChange.objects.create(
        customer=customer, to_stage="new", changed_at=T0 + timedelta(days=5), reason="first order"
    )
    vip = Segment.objects.create(name="VIP")
    SegmentMembership.objects.create(segment=vip, customer=customer, entered_at=T0 + timedelta(days=6))
    Event.objects.create(shop=shop, customer=customer, type="cart_abandoned", occurred_at=T0 + timedelta(days=7))
    CustomerMetrics.objects.create(customer=customer, computed_at=T0, stage="new", stage_since=T0, clv_predicted=321.5)
    customer.tags.add(Tag.objects.create(name="wholesale"))
    return ticket


def kinds(response) -> list[str]:
    return [e.kind for e in response.context["page"].object_list]


def test_the_page_shows_the_header_and_every_kind_of_history_newest_first(admin_client, customer, story):
    response = admin_client.get(url(customer))
    assert response.status_code == 200
    html = response.content.decode()
    for fact in ("ada@example.com", "Marketing consent: <b>yes</b>", "321.50", "VIP", "wholesale", "Chipped mug"):
        assert fact in html
    assert kinds(response) == [
        "event",
        "segment_entry",
        "stage",
        "nps",
        "message",  # the internal note, day 3
        "message",  # the opening message, day 2, above the ticket opened with it
        "ticket",
        "refund",
        "order",
    ]
    assert "Blue mug" in html and "Secret: refund approved" in html


def test_the_timeline_filters_by_type(admin_client, customer, story):
    assert kinds(admin_client.get(url(customer, type="orders"))) == ["refund", "order"]
    both = admin_client.get(url(customer) + "?type=orders&type=feedback")
    assert kinds(both) == ["nps", "refund", "order"]
    assert kinds(admin_client.get(url(customer, type="nonsense"))) == kinds(admin_client.get(url(customer)))


def test_the_timeline_is_paginated(admin_client, customer):
    for day in range(60):
        OrderFactory(customer=customer, placed_at=T0 + timedelta(days=day))
    first = admin_client.get(url(customer))
    last = admin_client.get(url(customer, page=3))
    assert len(first.context["page"].object_list) == 25 and len(last.context["page"].object_list) == 10
    assert first.context["page"].object_list[0].at == T0 + timedelta(days=59)
    assert last.context["page"].object_list[-1].at == T0
    assert admin_client.get(url(customer, page="zzz")).status_code == 200  # a bad page number shows page 1


def test_an_unknown_customer_is_a_404(admin_client):
    assert admin_client.get(reverse("admin:crm_customer360_change", args=[999999])).status_code == 404
    assert admin_client.get("/admin/crm/customer360/abc/change/").status_code in (302, 404)


def test_a_constant_number_of_queries_for_1000_orders_and_200_tickets(
    admin_client, customer, django_assert_num_queries
):
    shop = ShopFactory()
    orders = OrderFactory.create_batch(1000, customer=customer, shop=shop)
    OrderLine.objects.bulk_create(OrderLine(order=o, sku="MUG", name="Mug", quantity=1, unit_price=10) for o in orders)
    tickets = Ticket.objects.bulk_create(
        Ticket(customer=customer, shop=shop, subject=f"Question {i}", created_at=T0 + timedelta(hours=i))
        for i in range(200)
    )
    TicketMessage.objects.bulk_create(
        TicketMessage(ticket=t, author_kind="customer", body="Hello", created_at=t.created_at) for t in tickets
    )
    customers_recompute(customer_ids=[customer.pk])  # the figures, and their money per currency
    # 17, 2 for email consent (the shops' state, the history), 1 for the flows panel and 1 for
    # the conversions panel
    with django_assert_num_queries(21):
        assert admin_client.get(url(customer)).status_code == 200
    small = CustomerFactory()
    OrderFactory(customer=small)
    customers_recompute(customer_ids=[small.pk])
    with django_assert_num_queries(21):  # the same count for one order as for a thousand
        assert admin_client.get(url(small)).status_code == 200


def test_quick_actions_open_a_ticket_add_a_note_and_a_tag(admin_client, customer):
    page = url(customer)
    opened = admin_client.post(
        page,
        {"action": "open_ticket", "subject": "Called about returns", "message": "Wants a label", "priority": "normal"},
    )
    assert opened.status_code == 302
    ticket = Ticket.objects.get(customer=customer)
    assert ticket.subject == "Called about returns" and ticket.messages.get().author_kind == "agent"
    assert admin_client.post(page, {"action": "note", "body": "Prefers phone"}).status_code == 302
    assert CustomerNote.objects.get(customer=customer).body == "Prefers phone"
    assert admin_client.post(page, {"action": "tag", "tag": "  VIP  "}).status_code == 302
    assert list(customer.tags.values_list("name", flat=True)) == ["VIP"]
    shown = admin_client.get(page)
    assert kinds(shown)[:3] == ["note", "message", "ticket"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"action": "open_ticket", "subject": "", "message": "x", "priority": "normal"}, "subject"),
        ({"action": "open_ticket", "subject": "x", "message": "x", "priority": "asap"}, "priority"),
        ({"action": "open_ticket", "subject": "x", "message": "x" * 50_001, "priority": "normal"}, "message"),
        ({"action": "note", "body": "   "}, "body"),
        ({"action": "tag", "tag": ""}, "tag"),
        ({"action": "tag", "tag": "x" * 65}, "tag"),
    ],
)
def test_bad_quick_actions_are_refused_naming_the_field(admin_client, customer, data, field):
    response = admin_client.post(url(customer), data)
    assert response.status_code == 400
    assert field in response.context["forms"][data["action"]].errors
    assert not Ticket.objects.exists() and not CustomerNote.objects.exists() and not customer.tags.exists()


def test_an_unknown_action_is_forbidden(admin_client, customer):
    assert admin_client.post(url(customer), {"action": "delete_everything"}).status_code == 403


def test_a_search_result_and_a_ticket_link_to_the_page(admin_client, customer, story):
    results = admin_client.get(reverse("admin:crm_customer360_changelist") + "?q=ada@example.com")
    assert url(customer) in results.content.decode()
    ticket_page = admin_client.get(reverse("admin:support_ticket_change", args=[story.pk]))
    assert url(customer) in ticket_page.content.decode()


def test_the_header_shows_the_loyalty_tier_and_points(admin_client, customer):
    from loyalty.models import Account, Tier

    page = admin_client.get(url(customer)).content.decode()
    assert "no points yet" in page

    gold = Tier.objects.create(name="Gold", rank=2, enter_threshold=1000, keep_threshold=800)
    Account.objects.create(customer=customer, group=ShopFactory().group, tier=gold, balance=400, pending=35)
    Account.objects.create(customer=customer, group=ShopFactory().group, balance=20)
    page = admin_client.get(url(customer)).content.decode()

    # Staff see the person: the sum over their shop groups, and the highest tier.
    assert "Gold · 420 points (+35 pending) over 2 shop groups" in page
    assert reverse("admin:loyalty_account_changelist") + f"?customer__id__exact={customer.pk}" in page


def test_the_timeline_shows_the_customers_emails_with_their_status(client, login, customer, story):
    from messaging.models import Message
    from messaging.sending import messages_send
    from messaging.services import message_queue

    shop = ShopFactory(name="Acme")
    sent = message_queue(key="welcome:1", template="test", customer_id=customer.pk, shop_id=shop.pk, now=T0)
    messages_send(now=T0 + timedelta(days=8))
    queued = message_queue(
        key="promo:1", template="test", customer_id=customer.pk, kind="marketing", now=T0 + timedelta(days=9)
    )
    login("Support agent")

    response = client.get(url(customer))

    assert kinds(response)[:2] == ["email", "event"]  # the promotion (day 9), then the event (day 7)
    assert kinds(response).count("email") == 2 and kinds(response)[-1] == "email"  # the welcome, queued at T0
    html = response.content.decode()
    sent_url = reverse("admin:messaging_message_change", args=[sent.pk])
    assert f'<a href="{sent_url}">A test from E-commerce CRM</a> to ada@example.com · Sent' in html
    assert f'<a href="{reverse("admin:messaging_message_change", args=[queued.pk])}">test</a>' in html
    assert "· Queued · marketing" in html
    assert kinds(client.get(url(customer, type="email"))) == ["email", "email"]
    assert Message.objects.filter(customer=customer).count() == 2


def test_emails_cost_one_query_on_the_page_and_none_for_those_who_may_not_read_them(
    admin_client, client, customer, django_user_model, django_assert_num_queries
):
    from django.contrib.auth.models import Permission

    from messaging.services import message_queue

    OrderFactory(customer=customer)
    customers_recompute(customer_ids=[customer.pk])
    with django_assert_num_queries(21):
        admin_client.get(url(customer))
    for i in range(5):
        message_queue(key=f"m:{i}", template="test", customer_id=customer.pk)
    with django_assert_num_queries(22):  # the page's emails, in one query (not marketing: no sends to read)
        assert kinds(admin_client.get(url(customer))) == ["email"] * 5 + ["stage", "order"]
    reader = django_user_model.objects.create_user("reader", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_customer360"))
    client.force_login(reader)
    response = client.get(url(customer))
    assert "email" not in kinds(response) and "email" not in response.context["groups"]


def test_email_consent_shows_each_shops_state_and_the_history_newest_first_to_every_role(
    client, login, customer, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from customers.models import ConsentEvent
    from customers.services.consent import identities_consent_set
    from customers.tests.factories import IdentityFactory

    coffee = IdentityFactory(customer=customer, shop=ShopFactory(name="Coffee"), marketing_consent=True)
    IdentityFactory(customer=customer, shop=ShopFactory(name="Tea"))  # never said
    ConsentEvent.objects.create(
        customer=customer, shop=coffee.shop, given=True, at=T0, source="footer_form", shown_text="Join our club"
    )
    manager = login("Manager")
    manager.first_name, manager.last_name = "Mia", "Boss"
    manager.save()
    identities_consent_set(changes={coffee.pk: False}, source="admin", by_id=manager.pk, now=T0 + timedelta(days=1))
    login("Support agent")
    client.get(url(customer))  # the first request of a session reads more (its caches)

    with CaptureQueriesContext(connection) as short:
        response = client.get(url(customer))

    html = response.content.decode()
    assert "Coffee: <b>withdrawn</b> <small>2026-01-02</small>" in html and "Tea: <b>never said</b>" in html
    rows = [[cell.strip() for cell in row] for row in _rows(html)]
    assert rows == [
        ["2026-01-02 09:00", "Coffee", "withdrawn", "admin", "Mia Boss"],
        ["2026-01-01 09:00", "Coffee", "given", "footer form", "Join our club"],
    ]
    assert "show all" not in html

    # A long history: the newest ten, and a link to the rest, for the same queries.
    ConsentEvent.objects.bulk_create(
        ConsentEvent(customer=customer, shop=coffee.shop, given=i % 2 == 0, at=T0 - timedelta(days=i), source="api")
        for i in range(1, 11)
    )
    with django_assert_num_queries(len(short)):
        html = client.get(url(customer)).content.decode()
    assert len(_rows(html)) == 10 and 'href="?consent=all#c360-consent"' in html
    assert _rows(html)[0][4].strip() == "Mia Boss"
    everything = client.get(url(customer, consent="all")).content.decode()
    assert len(_rows(everything)) == 12 and "show all" not in everything
    assert _rows(everything)[-1][0].strip() == "2025-12-22 09:00"


def _rows(html: str) -> list[list[str]]:
    """The consent history table's rows, as cells of text."""
    import re

    table = html.split('id="c360-consent-history"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]
