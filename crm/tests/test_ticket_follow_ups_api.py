"""A customer's follow-up on a ticket through the API (issue 20): added to the ticket of the
key's shop only, as the desk adds a customer's reply (the SLA clock resumes, a solved ticket
reopens), once per external id or Idempotency-Key; a repeated POST /tickets with a new message
is 409 pointing to the messages, never a 200 that drops it; bad input is a 400 naming the
field, with nothing written."""

import json
from datetime import timedelta

import pytest
from django.apps import apps

from customers.models import Customer
from support.models import SlaPolicy, Ticket, TicketMessage
from support.tickets import ticket_merge, ticket_reply, ticket_set_status

pytestmark = pytest.mark.django_db

TICKET = {
    "customer": {"email": "ada@example.com", "first_name": "Ada"},
    "subject": "Where is my parcel?",
    "message": "Ordered a week ago.",
    "external_id": "form-7",
}


def row_counts() -> dict[str, int]:
    """How many rows every table holds: any write shows up here."""
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    }


def post(api, path, body, **headers):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return api.post(path, data, content_type="application/json", **headers)


def messages_of(ticket_id: int) -> str:
    return f"/api/v1/tickets/{ticket_id}/messages"


@pytest.fixture
def agent(django_user_model):
    return django_user_model.objects.create_user("agent", is_staff=True)


@pytest.fixture
def policy():
    """Around the clock (no business hours), so due times are plain minutes from a moment."""
    return SlaPolicy.objects.create(name="Normal", priority="normal", first_response_minutes=60, resolution_minutes=480)


@pytest.fixture
def ticket(api) -> Ticket:
    response = post(api, "/api/v1/tickets", TICKET)
    assert response.status_code == 201
    return Ticket.objects.get(pk=response.json()["id"])


def test_a_follow_up_is_added_sanitised_and_listed_with_the_thread(api, ticket):
    response = post(api, messages_of(ticket.pk), {"message": "<p>Still nothing.</p><script>alert(1)</script>"})

    assert response.status_code == 201
    body = response.json()
    assert (body["ticket_id"], body["author_kind"], body["body"]) == (ticket.pk, "customer", "<p>Still nothing.</p>")
    assert (body["external_id"], body["ticket_status"]) == ("", "new")
    stored = TicketMessage.objects.get(pk=body["id"])
    assert (stored.ticket_id, stored.body, stored.public) == (ticket.pk, "<p>Still nothing.</p>", True)

    listed = api.get(messages_of(ticket.pk))
    assert listed.status_code == 200
    assert [m["body"] for m in listed.json()["results"]] == ["<p>Still nothing.</p>", "Ordered a week ago."]


def test_the_list_shows_public_messages_only_newest_first_in_cursor_pages(api, ticket, agent):
    ticket_reply(ticket=ticket, body="Internal: carrier lost it", user=agent, public=False)
    ticket_reply(ticket=ticket, body="Sorry, we are sending another", user=agent)
    post(api, messages_of(ticket.pk), {"message": "Thanks!"})

    first = api.get(f"{messages_of(ticket.pk)}?page_size=2").json()
    second = api.get(first["next"]).json()

    assert [m["body"] for m in first["results"]] == ["Thanks!", "Sorry, we are sending another"]
    assert [m["author_kind"] for m in first["results"]] == ["customer", "agent"]
    assert [m["body"] for m in second["results"]] == ["Ordered a week ago."] and second["next"] is None


def test_a_follow_up_on_a_ticket_pending_on_the_customer_resumes_its_sla_clock(api, policy, ticket, agent):
    start = ticket.created_at
    ticket_reply(ticket=ticket, body="Could you send a photo?", user=agent, now=start + timedelta(minutes=30))
    ticket = ticket_set_status(ticket=ticket, status="pending", now=start + timedelta(minutes=30))
    assert (ticket.resolution_due_at, ticket.resolution_left_minutes) == (None, 450)

    response = post(api, messages_of(ticket.pk), {"message": "Here it is"})

    assert response.status_code == 201 and response.json()["ticket_status"] == "open"
    ticket.refresh_from_db()
    sent_at = TicketMessage.objects.get(pk=response.json()["id"]).created_at
    # The 450 minutes that were left count again from the customer's message, as in the desk.
    assert ticket.status == "open"
    assert ticket.resolution_due_at == sent_at + timedelta(minutes=450)
    assert ticket.resolution_left_minutes is None


def test_a_follow_up_reopens_a_solved_ticket_with_a_fresh_resolution_clock(api, policy, ticket):
    ticket_set_status(ticket=ticket, status="solved")

    response = post(api, messages_of(ticket.pk), {"message": "Still broken"})

    assert response.status_code == 201 and response.json()["ticket_status"] == "open"
    ticket.refresh_from_db()
    sent_at = TicketMessage.objects.get(pk=response.json()["id"]).created_at
    assert (ticket.status, ticket.solved_at, ticket.resolution_met) == ("open", None, None)
    assert ticket.resolution_due_at == sent_at + timedelta(minutes=policy.resolution_minutes)


def test_another_shops_key_gets_404_and_writes_nothing(ticket, other_api):
    before = row_counts()

    refused = post(other_api, messages_of(ticket.pk), {"message": "Hijack", "external_id": "m-1"})
    listed = other_api.get(messages_of(ticket.pk))

    assert (refused.status_code, listed.status_code) == (404, 404)
    assert refused.json() == {"detail": "No such ticket in this shop.", "errors": {}}
    assert row_counts() == before


def test_a_ticket_that_is_not_there_is_404(api):
    assert post(api, messages_of(999999), {"message": "Hello"}).status_code == 404
    assert api.get(messages_of(999999)).status_code == 404


def test_a_replayed_external_id_writes_once_and_answers_200_with_the_same_message(api, policy, ticket, agent):
    first = post(api, messages_of(ticket.pk), {"message": "Any news?", "external_id": "msg-1"})
    # The agent answers and waits for the customer again; the replay must not resume the clock.
    ticket_reply(ticket=ticket, body="Which address?", user=agent)
    ticket_set_status(ticket=ticket, status="pending")
    paused = Ticket.objects.get(pk=ticket.pk)
    before = row_counts()

    again = post(api, messages_of(ticket.pk), {"message": "Any news?", "external_id": " msg-1 "})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {**first.json(), "ticket_status": "pending"}
    assert row_counts() == before
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolution_left_minutes, ticket.updated_at) == (
        "pending",
        paused.resolution_left_minutes,
        paused.updated_at,
    )
    assert TicketMessage.objects.filter(external_id="msg-1").count() == 1


def test_the_same_idempotency_key_writes_once(api, ticket):
    responses = [
        post(api, messages_of(ticket.pk), {"message": "Any news?"}, HTTP_IDEMPOTENCY_KEY="follow-1") for _ in range(3)
    ]

    assert [r.status_code for r in responses] == [201, 201, 201]
    assert responses[0].content == responses[1].content == responses[2].content
    assert responses[2].headers["Idempotent-Replayed"] == "true"
    assert ticket.messages.filter(body="Any news?").count() == 1


def test_an_external_id_that_names_another_message_is_409_and_writes_nothing(api, ticket):
    post(api, messages_of(ticket.pk), {"message": "Any news?", "external_id": "msg-1"})
    other = post(api, "/api/v1/tickets", {**TICKET, "subject": "Refund", "external_id": "form-8"}).json()
    before = row_counts()

    changed = post(api, messages_of(ticket.pk), {"message": "Something else", "external_id": "msg-1"})
    elsewhere = post(api, messages_of(other["id"]), {"message": "Any news?", "external_id": "msg-1"})

    assert (changed.status_code, elsewhere.status_code) == (409, 409)
    assert list(changed.json()["errors"]) == ["external_id"]
    assert f"ticket #{ticket.pk}" in elsewhere.json()["errors"]["external_id"][0]
    assert row_counts() == before


def test_a_closed_ticket_takes_no_follow_up(api, ticket):
    ticket_set_status(ticket=ticket, status="closed")
    before = row_counts()

    response = post(api, messages_of(ticket.pk), {"message": "Hello?"})

    assert response.status_code == 409
    assert "closed" in response.json()["errors"]["ticket"][0]
    assert row_counts() == before


def test_a_ticket_merged_into_another_of_the_shops_takes_the_follow_up_there(api, ticket, agent):
    target = Ticket.objects.get(pk=post(api, "/api/v1/tickets", {**TICKET, "external_id": "form-8"}).json()["id"])
    ticket_merge(source=ticket, target=target, user=agent)

    response = post(api, messages_of(ticket.pk), {"message": "Any news?", "external_id": "msg-1"})

    assert response.status_code == 201 and response.json()["ticket_id"] == target.pk
    assert target.messages.filter(body="Any news?", external_id="msg-1").count() == 1
    listed = [m["body"] for m in api.get(messages_of(ticket.pk)).json()["results"]]
    assert listed == ["Any news?", "Ordered a week ago.", "Ordered a week ago."]
    # Replayed through the first ticket's address, it is found where the merge put it.
    again = post(api, messages_of(ticket.pk), {"message": "Any news?", "external_id": "msg-1"})
    assert again.status_code == 200 and again.json()["id"] == response.json()["id"]


# A repeated POST /tickets


def test_a_repeated_ticket_with_a_new_message_is_409_pointing_to_its_messages_and_writes_nothing(api, ticket):
    before = row_counts()
    follow_up = {**TICKET, "customer": {**TICKET["customer"], "first_name": "Adeline"}, "message": "Any news?"}

    response = post(api, "/api/v1/tickets", follow_up)

    assert response.status_code == 409
    body = response.json()
    assert body["ticket_id"] == ticket.pk
    assert body["messages_url"] == f"http://testserver/api/v1/tickets/{ticket.pk}/messages"
    assert list(body["errors"]) == ["external_id"] and body["messages_url"] in body["detail"]
    assert row_counts() == before
    assert Customer.objects.get().first_name == "Ada"  # not even the profile changed

    # Sent where the 409 points, it lands; the repeated ticket is then a true replay.
    assert post(api, body["messages_url"], {"message": "Any news?"}).status_code == 201
    replay = post(api, "/api/v1/tickets", follow_up)
    assert replay.status_code == 200 and replay.json()["id"] == ticket.pk
    assert [m["body"] for m in replay.json()["messages"]] == ["Ordered a week ago.", "Any news?"]


def test_a_true_replay_of_a_ticket_still_returns_it_with_200(api, ticket, agent):
    before = row_counts()

    again = post(api, "/api/v1/tickets", TICKET)

    assert again.status_code == 200 and again.json()["id"] == ticket.pk
    assert {k: v for k, v in row_counts().items() if k != "customers.PendingUpdate"} == {
        k: v for k, v in before.items() if k != "customers.PendingUpdate"
    }
    # After a merge the thread lives on the other ticket: the replay is still recognised.
    target = Ticket.objects.get(pk=post(api, "/api/v1/tickets", {**TICKET, "external_id": "form-8"}).json()["id"])
    ticket_merge(source=ticket, target=target, user=agent)
    assert post(api, "/api/v1/tickets", TICKET).status_code == 200


def test_a_repeated_ticket_with_markup_that_sanitises_to_the_same_message_is_a_replay(api, ticket):
    again = post(api, "/api/v1/tickets", {**TICKET, "message": "Ordered a week ago.<script>x()</script>"})
    assert again.status_code == 200 and again.json()["id"] == ticket.pk


# Hostile input: 4xx naming the field, nothing written


def nested(depth: int):
    value: object = "deep"
    for _ in range(depth):
        value = {"a": [value]}
    return value


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "message"),
        ({"message": ""}, "message"),
        ({"message": "   \n "}, "message"),
        ({"message": "<script>alert(1)</script>"}, "message"),  # nothing left once sanitised
        ({"message": "a\x00b"}, "message"),
        ({"message": "x" * 50_001}, "message"),
        ({"message": 42}, "message"),
        ({"message": None}, "message"),
        ({"message": ["hi"]}, "message"),
        ({"message": nested(40)}, "message"),
        ({"message": "Hi", "external_id": 7}, "external_id"),
        ({"message": "Hi", "external_id": "x" * 256}, "external_id"),
        ({"message": "Hi", "external_id": "m\x00"}, "external_id"),
        (["message", "Hi"], "non_field_errors"),
        (b'{"message": "Hi"', "body"),
        (b'{"message": "\xff"}', "body"),
        (b'{"message": "Hi", "plugin": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "body"),
    ],
)
def test_hostile_bodies_are_400_naming_the_field_and_write_nothing(api, ticket, body, field):
    before = row_counts()

    response = post(api, messages_of(ticket.pk), body)

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert row_counts() == before


def test_an_unknown_field_however_deep_is_ignored(api, ticket):
    response = post(api, messages_of(ticket.pk), {"message": "Hi", "plugin": nested(20)})
    assert response.status_code == 201 and ticket.messages.count() == 2


def test_a_path_id_that_is_not_a_whole_number_is_404(api):
    assert post(api, "/api/v1/tickets/abc/messages", {"message": "Hi"}).status_code == 404
    assert post(api, f"/api/v1/tickets/{'9' * 19}/messages", {"message": "Hi"}).status_code == 404


# Roles and query budgets


def test_a_marketer_key_reads_the_thread_but_adds_nothing_to_it(shop, ticket, role_api):
    marketer = role_api(shop, "Marketer")
    assert marketer.get(messages_of(ticket.pk)).status_code == 200
    refused = post(marketer, messages_of(ticket.pk), {"message": "Hi"})
    assert refused.status_code == 403 and ticket.messages.count() == 1


def test_a_follow_up_takes_a_fixed_number_of_queries(api, policy, ticket, agent, django_assert_num_queries):
    ticket_set_status(ticket=ticket, status="pending")
    post(api, messages_of(ticket.pk), {"message": "warm the key cache"})
    ticket_set_status(ticket=ticket, status="pending")

    # The ticket in the shop; in a transaction (a savepoint here, inside the test's own): the
    # ticket locked with its SLA policy, the replay check, the message, the audit log's read
    # of the ticket and its entry, the ticket's update.
    with django_assert_num_queries(9):
        response = post(api, messages_of(ticket.pk), {"message": "Here it is", "external_id": "msg-9"})

    assert response.status_code == 201 and response.json()["ticket_status"] == "open"


def test_the_thread_takes_a_fixed_number_of_queries_however_long(api, ticket, django_assert_num_queries):
    api.get(messages_of(ticket.pk))  # the key is cached from here on
    for i in range(30):
        post(api, messages_of(ticket.pk), {"message": f"Message {i}"})

    with django_assert_num_queries(2):  # the ticket in the shop, one page of messages
        response = api.get(f"{messages_of(ticket.pk)}?page_size=30")

    assert len(response.json()["results"]) == 30
