"""Audit history: who changed what, and when, on customers, tickets, segments and API keys,
shown behind each one's History button in the admin."""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from campaigns.models import Segment
from customers.models import ApiKey
from customers.services.api_keys import api_key_create, api_key_revoke
from customers.tests.factories import CustomerFactory
from support.tickets import TicketData, ticket_open, ticket_set_status

pytestmark = pytest.mark.django_db


def entries(obj):
    return LogEntry.objects.get_for_object(obj).order_by("timestamp")


def test_a_customer_edited_in_the_admin_is_logged_with_the_editor(admin_client, admin_user):
    customer = CustomerFactory(first_name="Ada", email="ada@example.com")
    page = reverse("admin:customers_customer_change", args=[customer.pk])
    form = admin_client.get(page).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update(first_name="Augusta", tags=[], **{"identities-TOTAL_FORMS": "0", "identities-INITIAL_FORMS": "0"})
    assert admin_client.post(page, data).status_code == 302
    change = entries(customer).last()
    assert change.actor == admin_user and change.action == LogEntry.Action.UPDATE
    assert change.changes_dict["first_name"] == ["Ada", "Augusta"]
    history = admin_client.get(reverse("admin:customers_customer_history", args=[customer.pk]))
    assert history.status_code == 200 and "Augusta" in history.content.decode()


def test_ticket_changes_are_logged(admin_client):
    ticket, _ = ticket_open(customer=CustomerFactory(), data=TicketData(subject="Help", body="Hi"))
    ticket_set_status(ticket=ticket, status="solved")
    actions = [(e.action, e.changes_dict.get("status")) for e in entries(ticket)]
    assert actions[0][0] == LogEntry.Action.CREATE
    assert actions[-1] == (LogEntry.Action.UPDATE, ["new", "solved"])
    assert admin_client.get(reverse("admin:support_ticket_history", args=[ticket.pk])).status_code == 200


def test_segment_changes_are_logged(admin_client):
    segment = Segment.objects.create(name="Germany")
    segment.name = "Germany and Austria"
    segment.save()
    assert entries(segment).last().changes_dict["name"] == ["Germany", "Germany and Austria"]
    assert admin_client.get(reverse("admin:campaigns_segment_history", args=[segment.pk])).status_code == 200


def test_api_keys_are_logged_without_their_hash(shop, admin_client):
    issued = api_key_create(shop=shop, name="checkout")
    api_key_revoke(api_key=issued.api_key)
    logged = entries(ApiKey.objects.get(pk=issued.api_key.pk))
    assert [e.action for e in logged] == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]
    assert issued.api_key.key_hash not in str(logged.first().changes)
    assert "revoked_at" in logged.last().changes_dict
    assert admin_client.get(reverse("admin:customers_apikey_history", args=[issued.api_key.pk])).status_code == 200
