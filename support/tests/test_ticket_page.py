"""The ticket page as an agent works it: the conversation first beside the customer, the
reply before the CSAT invitation, a macro's text in the reply box before sending, the
customer picked by name or email, and labels that read well."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from crm.roles import MARKETER, SUPPORT_AGENT
from customers.models import CustomerMetrics
from customers.tests.factories import CustomerFactory, OrderFactory, ShopFactory
from loyalty.models import Account, Tier
from support.feedback import csat_submit
from support.models import Macro, Ticket
from support.tests import factories
from support.tests.factories import open_ticket
from support.tests.test_support_admin import ticket_form
from support.tickets import ticket_reply, ticket_set_status

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def agent(django_user_model, client):
    user = django_user_model.objects.create_user("sam", first_name="Sam", last_name="Reed", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_AGENT))
    client.force_login(user)
    return user


def page_of(ticket) -> str:
    return reverse("admin:support_ticket_change", args=[ticket.pk])


# 1. The ticket page


@pytest.fixture
def ann():
    """A customer with a stage, a CLV, a loyalty tier and points, and orders in euros."""
    ann = CustomerFactory(first_name="Ann", last_name="Lee", email="ann@example.com", orders_count=7)
    ann.net_revenue = Decimal("1234.50")
    ann.save()
    CustomerMetrics.objects.create(
        customer=ann, stage="at_risk", clv_predicted=210.456, computed_at=NOW, stage_since=NOW
    )
    shop = ShopFactory(name="Demo EU")
    for day in range(7):
        OrderFactory(
            customer=ann,
            shop=shop,
            external_id=f"EU-{1000 + day}",
            placed_at=NOW - timedelta(days=30 - day),
            currency="EUR",
            total=Decimal("59.90"),
        )
    gold = Tier.objects.create(name="Gold", rank=2, enter_threshold=1000, keep_threshold=800)
    Account.objects.create(customer=ann, group=shop.group, tier=gold, balance=1234, pending=50)
    return ann


def test_the_conversation_comes_first_beside_the_customers_context(client, agent, ann, settings):
    settings.BASE_CURRENCY = "USD"
    ticket = open_ticket(ann, "Where is EU-1006?", body="Hi,\nmy parcel is late.\n\nAnn", now=NOW)
    ticket_reply(ticket=ticket, body="Hi Ann,\nSorry that order took so long.\n\nSam", user=agent, now=NOW)
    other = open_ticket(ann, "Invoice please", now=NOW)
    solved = open_ticket(ann, "Old question", now=NOW)
    ticket_set_status(ticket=solved, status=Ticket.Status.SOLVED, now=NOW)

    html = client.get(page_of(ticket)).content.decode()

    conversation, customer = html.index('id="ticket-conversation"'), html.index('id="ticket-customer"')
    reply_box, sla = html.index('name="reply"'), html.index("SLA and escalation")
    assert conversation < reply_box < customer < sla  # the thread and the reply box, then the SLA fields
    # Line breaks kept, text escaped.
    assert "<p>Hi,<br>my parcel is late.</p>\n\n<p>Ann</p>" in html
    assert "<p>Hi Ann,<br>Sorry that order took so long.</p>\n\n<p>Sam</p>" in html
    panel = html[customer:sla]
    assert "At risk" in panel
    assert "1,234.50 USD over 7 orders" in panel
    assert "210.46 USD" in panel
    assert "Gold" in panel and "1,234 points (+50 pending)" in panel
    # The last five orders, newest first, with the shop's number, date, total and currency.
    assert [n for n in (f"EU-{1000 + d}" for d in range(7)) if n in panel] == [f"EU-{1000 + d}" for d in range(2, 7)]
    assert panel.index("EU-1006") < panel.index("EU-1002")
    assert "59.90 EUR" in panel and (NOW - timedelta(days=24)).strftime("%Y-%m-%d") in panel
    # Other open tickets link to their pages; solved ones and this one are not listed.
    assert f'href="{page_of(other)}"' in panel and "Invoice please" in panel
    assert "Old question" not in panel and f'href="{page_of(ticket)}"' not in panel


def test_the_ticket_page_costs_the_same_queries_whatever_the_customers_history(
    client, agent, ann, django_assert_num_queries
):
    ticket = open_ticket(ann, now=NOW)
    page = page_of(ticket)
    client.get(page)  # warm the content-type and permission caches
    # 17: the messages' emailed attachments are one query for the whole thread
    with django_assert_num_queries(17) as small:
        assert client.get(page).status_code == 200
    for i in range(30):
        OrderFactory(customer=ann, external_id=f"more-{i}")
        ticket_reply(ticket=ticket, body=f"Message {i}", user=agent if i % 2 else None)
        open_ticket(ann, f"Another {i}")
    with django_assert_num_queries(len(small.captured_queries)):
        assert client.get(page).status_code == 200


def test_the_customer_360_timeline_keeps_a_messages_line_breaks(client, agent):
    ann = CustomerFactory(first_name="Ann")
    ticket = open_ticket(ann)
    ticket_reply(ticket=ticket, body="Hi Ann,\nSorry that order took 3 days & more.\n\nSam", user=agent)
    html = client.get(reverse("admin:crm_customer360_change", args=[ann.pk])).content.decode()
    assert "<p>Hi Ann,<br>Sorry that order took 3 days &amp; more.</p>\n\n<p>Sam</p>" in html


def test_a_message_shows_as_text_so_markup_in_it_cannot_run(client, agent):
    ticket = open_ticket(body='<p>Look <a href="https://shop.example/t/1">here</a> <img src=x onerror=alert(1)></p>')
    html = client.get(page_of(ticket)).content.decode()
    assert "<p>Look here (https://shop.example/t/1)</p>" in html
    assert "onerror" not in html


def test_an_agent_sees_which_replies_were_emailed_and_which_never_reached_the_customer(client, agent):
    from messaging.sending import messages_send
    from messaging.services import suppression_add

    ann = CustomerFactory(first_name="Ann", email="ann@example.com")
    ticket = open_ticket(ann)
    ticket_reply(ticket=ticket, body="First answer", user=agent)
    messages_send()
    suppression_add(address="ann@example.com", reason="hard_bounce")
    ticket_reply(ticket=ticket, body="Second answer", user=agent)
    messages_send()
    ticket_reply(ticket=ticket, body="Only for us", user=agent, public=False)

    html = client.get(page_of(ticket)).content.decode()

    blocks = {block.split("</li>")[0] for block in html.split('<li class="ticket-message')[1:]}
    [first] = [b for b in blocks if "First answer" in b]
    [second] = [b for b in blocks if "Second answer" in b]
    [note] = [b for b in blocks if "Only for us" in b]
    [question] = [b for b in blocks if "from-customer" in b]
    assert ">emailed<" in first and "email-warn" not in first
    assert "not emailed: the address is suppressed" in second and "email-warn" in second
    assert "email-note" not in note and "email-note" not in question
    assert 'class="ticket-badge email-note email-warn"' in html


# 2. CSAT after the solving reply, credited to the agent who answered


def test_solving_with_a_reply_posts_the_reply_then_the_csat_invitation(client, agent):
    ticket = open_ticket()
    response = client.post(
        page_of(ticket), ticket_form(ticket, reply="All sorted: a new one is on its way.", status="solved")
    )
    assert response.status_code == 302
    thread = list(ticket.messages.order_by("created_at", "id").values_list("author_kind", "body"))
    assert [kind for kind, _ in thread] == ["customer", "agent", "system"]
    assert thread[1][1] == "All sorted: a new one is on its way."
    assert "How did we do?" in thread[2][1]


def test_csat_credits_the_agent_who_answered_an_unassigned_ticket(client, agent):
    ticket = open_ticket()
    client.post(page_of(ticket), ticket_form(ticket, reply="Done!", status="solved"))
    ticket.refresh_from_db()
    assert ticket.assignee == agent  # the answering agent took the ticket

    answer = csat_submit(ticket=ticket, rating=5)

    assert answer.agent == agent
    by_agent = client.get(reverse("admin:support_csatresponse_changelist")).context["by_agent"]
    assert [(row["name"], row["answers"]) for row in by_agent] == [("sam", 1)]


def test_an_assigned_ticket_stays_with_its_assignee_whoever_replies(agent, django_user_model):
    owner = django_user_model.objects.create_user("owner", is_staff=True)
    ticket = open_ticket()
    ticket.assignee = owner
    ticket.save()
    ticket_reply(ticket=ticket, body="Covering for a colleague", user=agent)
    ticket_reply(ticket=ticket, body="A note", user=agent, public=False)
    ticket.refresh_from_db()
    assert ticket.assignee == owner
    ticket = ticket_set_status(ticket=ticket, status=Ticket.Status.SOLVED)
    assert csat_submit(ticket=ticket, rating=4).agent == owner


def test_an_internal_note_does_not_assign_the_ticket(agent):
    ticket = open_ticket()
    ticket_reply(ticket=ticket, body="Checking with the warehouse", user=agent, public=False)
    ticket.refresh_from_db()
    assert ticket.assignee is None


# 3. Macros: the text in the reply box before sending


@pytest.fixture
def refund_macro():
    return factories.refund_macro(
        "<p>Hi {{ first_name }},</p><p>we have refunded order {{ last_order_number }}. "
        "As a {{ loyalty_tier }} member you keep your {{ points }} points.</p><p>{{ agent_name }}</p>",
    )


def preview(client, ticket, macro_id):
    url = reverse("admin:support_ticket_macro_preview", args=[ticket.pk])
    return client.get(url, {"macro": macro_id})


def test_choosing_a_macro_gives_its_text_for_this_customer_to_edit(client, agent, ann, refund_macro):
    ticket = open_ticket(ann)
    response = preview(client, ticket, refund_macro.pk)
    assert response.status_code == 200
    assert json.loads(response.content) == {
        "text": "Hi Ann,\n\nwe have refunded order EU-1006. As a Gold member you keep your 1,234 points.\n\nSam Reed",
        "reply_as": "public",
        "set_status": "solved",
        "set_status_label": "Solved",
        "tags": ["refund"],
        "empty": [],
    }
    assert ticket.messages.count() == 1  # nothing sent


def test_a_macro_reads_well_for_a_customer_with_no_name_orders_or_tier(client, agent, refund_macro):
    ticket = open_ticket(CustomerFactory(first_name="", last_name=""))
    body = json.loads(preview(client, ticket, refund_macro.pk).content)
    assert body["text"] == "Hi there,\n\nwe have refunded order. As a member you keep your 0 points.\n\nSam Reed"
    assert body["empty"] == ["first_name", "last_order_number", "loyalty_tier"]


def test_what_is_sent_is_what_is_in_the_box_with_the_macros_tags_and_status(client, agent, ann, refund_macro):
    ticket = open_ticket(ann)
    edited = "Hi Ann,\n\nwe have refunded order EU-1006 in full, postage included.\n\nSam"
    response = client.post(page_of(ticket), ticket_form(ticket, macro=refund_macro.pk, reply=edited))
    assert response.status_code == 302
    ticket.refresh_from_db()
    bodies = list(ticket.messages.order_by("created_at", "id").values_list("body", flat=True))
    assert (
        bodies[1] == "<p>Hi Ann,</p>\n\n<p>we have refunded order EU-1006 in full, postage included.</p>\n\n<p>Sam</p>"
    )
    assert "How did we do?" in bodies[2] and len(bodies) == 3  # the macro's own text is not sent as well
    assert ticket.status == "solved" and list(ticket.tags.values_list("name", flat=True)) == ["refund"]


def test_a_macro_text_the_agent_emptied_from_the_box_is_not_sent(client, agent, refund_macro):
    ticket = open_ticket()
    form = ticket_form(ticket, macro=refund_macro.pk, reply="", macro_in_box="1")  # the script filled the box
    assert client.post(page_of(ticket), form).status_code == 302
    ticket.refresh_from_db()
    kinds = list(ticket.messages.order_by("created_at", "id").values_list("author_kind", flat=True))
    assert kinds == ["customer", "system"]  # no reply; the macro still solved and tagged the ticket
    assert ticket.status == "solved" and list(ticket.tags.values_list("name", flat=True)) == ["refund"]


def test_without_the_script_an_empty_box_sends_the_macros_own_text(client, agent, refund_macro):
    ticket = open_ticket(CustomerFactory(first_name="Ann"))
    assert client.post(page_of(ticket), ticket_form(ticket, macro=refund_macro.pk)).status_code == 302
    reply = ticket.messages.order_by("created_at", "id")[1]
    assert reply.author == agent and reply.body.startswith("<p>Hi Ann,</p>")


def test_a_status_the_agent_chooses_wins_over_the_macros(client, agent, refund_macro):
    ticket = open_ticket()
    client.post(
        page_of(ticket), ticket_form(ticket, macro=refund_macro.pk, reply="Refund on its way", status="pending")
    )
    ticket.refresh_from_db()
    assert ticket.status == "pending"


def test_an_internal_note_macro_fills_the_box_as_a_note(client, agent):
    note = Macro.objects.create(name="Escalate", body="<p>Escalating {{ subject }}</p>", public=False)
    ticket = open_ticket(subject="Broken kettle")
    assert json.loads(preview(client, ticket, note.pk).content)["reply_as"] == "note"


@pytest.mark.parametrize("macro", ["999999", "abc", "", "switched-off"])
def test_a_macro_that_is_not_there_is_a_404_not_a_500(client, agent, macro):
    off = Macro.objects.create(name="Old", body="x", is_active=False)
    ticket = open_ticket()
    response = preview(client, ticket, off.pk if macro == "switched-off" else macro)
    assert response.status_code == 404 and json.loads(response.content)["errors"] == {"macro": ["Not found."]}


def test_only_staff_who_may_change_the_ticket_get_a_macros_text(client, login, refund_macro):
    ticket = open_ticket(CustomerFactory(first_name="Ann"))
    login(MARKETER)  # reads tickets, does not work them
    response = preview(client, ticket, refund_macro.pk)
    assert response.status_code == 403 and "Ann" not in response.content.decode()
    client.logout()
    response = preview(client, ticket, refund_macro.pk)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_macro_preview_of_a_ticket_that_is_not_there_is_a_404(client, agent, refund_macro):
    url = reverse("admin:support_ticket_macro_preview", args=[999999])
    assert client.get(url, {"macro": refund_macro.pk}).status_code == 404


def test_the_ticket_page_loads_the_macro_script_from_a_static_file(client, agent):
    html = client.get(page_of(open_ticket())).content.decode()
    assert 'src="/static/support/ticket_macro.js"' in html
    assert "data-macro-preview-url=" in html


# 5. Add ticket: the customer picked by name or email


@pytest.mark.parametrize("term", ["ann.rossi@example.com", "Rossi", "ann.ross"])
def test_a_support_agent_finds_the_customer_for_a_new_ticket_in_the_picker(client, agent, term):
    ann = CustomerFactory(first_name="Ann", last_name="Rossi", email="ann.rossi@example.com")
    CustomerFactory(email="someone@example.com")
    html = client.get(reverse("admin:support_ticket_add")).content.decode()
    assert 'data-field-name="customer"' in html  # the search picker, not a raw id box

    response = client.get(
        reverse("admin:autocomplete"),
        {"term": term, "app_label": "support", "model_name": "ticket", "field_name": "customer"},
    )
    assert response.status_code == 200
    # Named with the email: several customers may share a name (crm/admin/pickers.py).
    assert json.loads(response.content)["results"] == [{"id": str(ann.pk), "text": "Ann Rossi · ann.rossi@example.com"}]


# 6. Labels that read well


def test_a_pending_tickets_status_reads_well_in_brackets(client, agent):
    customer = CustomerFactory()
    ticket = open_ticket(customer)
    ticket_set_status(ticket=ticket, status=Ticket.Status.PENDING)
    html = client.get(reverse("admin:crm_customer360_change", args=[customer.pk])).content.decode()
    assert "(pending on the customer)" in html
    assert "(pending (on the customer))" not in html


def test_a_solved_ticket_no_sla_applies_to_still_reads_no_sla(agent):
    ticket = ticket_set_status(ticket=open_ticket(), status=Ticket.Status.SOLVED)
    assert ticket.get_sla_state_display() == "no SLA"  # beside the customer, not "on track"


def test_an_order_in_a_currency_without_cents_reads_without_them(client, agent):
    customer = CustomerFactory()
    OrderFactory(customer=customer, currency="JPY", total="12300", external_id="J-1")
    ticket = open_ticket(customer)
    html = client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()
    assert "12,300 JPY" in html and "12,300.00 JPY" not in html
