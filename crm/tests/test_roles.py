"""Roles: the groups synced after every migrate, and what each may see and change, in the
admin and through an API key given the role. One test per role and permission boundary."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal
from django.urls import reverse
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from campaigns.models import Segment, SegmentMembership
from crm.roles import MANAGER, MARKETER, ROLES, SUPPORT_AGENT
from customers.tests.factories import CustomerFactory
from support.tickets import TicketData, ticket_open, ticket_reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(admin_user):
    customer = CustomerFactory()
    ticket, _ = ticket_open(customer=customer, data=TicketData(subject="Lost parcel", body="Where is it?"))
    ticket_reply(ticket=ticket, body="INTERNAL: customer is a known reseller", user=admin_user, public=False)
    return ticket


@pytest.fixture
def segment():
    return Segment.objects.create(name="Germany")


def test_every_migrate_brings_the_roles_back_to_the_roles_table():
    agent = Group.objects.get(name=SUPPORT_AGENT)
    agent.permissions.add(Permission.objects.get(codename="delete_customer"))  # granted by hand
    Group.objects.filter(name=MARKETER).delete()

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")  # what migrate ends with

    granted = {f"{p.content_type.app_label}.{p.codename}" for p in agent.permissions.select_related("content_type")}
    assert granted == set(ROLES[SUPPORT_AGENT])
    assert Group.objects.get(name=MARKETER).permissions.count() == len(ROLES[MARKETER])


@pytest.mark.django_db(transaction=True)
def test_the_roles_come_back_after_every_flush():
    """A transactional test flushes the database after it; post_migrate puts the roles back,
    every time (the first sync once left the app registry so the next flush skipped it)."""
    for _ in range(2):
        call_command("flush", verbosity=0, interactive=False)
        assert set(Group.objects.values_list("name", flat=True)) == set(ROLES)


def test_every_permission_a_role_names_exists():
    known = {f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")}
    assert {name for names in ROLES.values() for name in names} <= known
    assert Group.objects.get(name=MANAGER).permissions.count() == Permission.objects.count()


def test_a_support_agent_works_tickets_and_reviews_but_changes_no_segments_shops_or_keys(
    client, login, ticket, segment
):
    login(SUPPORT_AGENT)
    page = client.get(reverse("admin:support_ticket_change", args=[ticket.pk]))
    assert page.status_code == 200 and "INTERNAL: customer is a known reseller" in page.content.decode()
    assert client.get(reverse("admin:crm_customer360_change", args=[ticket.customer_id])).status_code == 200
    assert client.get(reverse("admin:customers_order_changelist")).status_code == 200
    assert client.get(reverse("admin:support_review_changelist")).status_code == 200
    # Segments: read-only.
    assert client.get(reverse("admin:campaigns_segment_change", args=[segment.pk])).status_code == 200
    assert client.post(reverse("admin:campaigns_segment_change", args=[segment.pk]), {"name": "X"}).status_code == 403
    assert client.get(reverse("admin:campaigns_segment_add")).status_code == 403
    # Shops and keys: nothing.
    assert client.get(reverse("admin:customers_shop_changelist")).status_code == 403
    assert client.get(reverse("admin:customers_apikey_changelist")).status_code == 403
    assert client.get(reverse("admin:customers_customer_add")).status_code == 403


def test_a_marketer_manages_segments_but_never_reads_internal_notes(client, login, ticket, segment):
    login(MARKETER)
    assert client.get(reverse("admin:campaigns_segment_add")).status_code == 200
    assert client.get(reverse("admin:customers_customer_changelist")).status_code == 200
    ticket_page = client.get(reverse("admin:support_ticket_change", args=[ticket.pk]))
    assert ticket_page.status_code == 200
    assert "Where is it?" in ticket_page.content.decode()
    assert "INTERNAL" not in ticket_page.content.decode()
    profile = client.get(reverse("admin:crm_customer360_change", args=[ticket.customer_id]))
    assert "Where is it?" in profile.content.decode() and "INTERNAL" not in profile.content.decode()
    # Cannot work tickets, open them from the 360 page, or touch shops and keys.
    assert client.post(reverse("admin:support_ticket_change", args=[ticket.pk]), {"subject": "x"}).status_code == 403
    assert "open_ticket" not in profile.context["forms"]
    opened = client.post(
        reverse("admin:crm_customer360_change", args=[ticket.customer_id]),
        {"action": "open_ticket", "subject": "x", "message": "x", "priority": "normal"},
    )
    assert opened.status_code == 403
    assert client.get(reverse("admin:customers_shop_changelist")).status_code == 403
    assert client.get(reverse("admin:customers_apikey_changelist")).status_code == 403


def test_a_marketer_deletes_a_segment_with_its_members_history(client, login, segment):
    customers = CustomerFactory.create_batch(3)
    SegmentMembership.objects.bulk_create(
        SegmentMembership(segment=segment, customer=c, entered_at=timezone.now()) for c in customers
    )
    login(MARKETER)

    confirm = client.get(reverse("admin:campaigns_segment_delete", args=[segment.pk]))
    assert confirm.status_code == 200 and "permission" not in confirm.content.decode()
    deleted = client.post(reverse("admin:campaigns_segment_delete", args=[segment.pk]), {"post": "yes"})

    assert deleted.status_code == 302
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert not SegmentMembership.objects.filter(segment_id=segment.pk).exists()


def test_a_manager_reaches_everything_including_shops_and_keys(client, login, ticket, segment):
    login(MANAGER)
    for name in ("customers_shop", "customers_apikey", "campaigns_segment", "support_ticket", "support_slapolicy"):
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
    assert "INTERNAL" in client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).content.decode()


def test_staff_with_no_role_see_nothing(client, django_user_model, ticket):
    client.force_login(django_user_model.objects.create_user("nobody", is_staff=True))
    assert client.get(reverse("admin:support_ticket_change", args=[ticket.pk])).status_code == 403
    assert client.get(reverse("admin:crm_customer360_change", args=[ticket.customer_id])).status_code == 403


# The API: a key given a role may make only that role's calls, on its shop.


TICKET = {"customer": {"email": "ada@example.com"}, "subject": "Hi", "message": "Hello"}


def test_a_support_agent_key_opens_tickets_but_pushes_no_orders(shop, order_payload, role_api):
    api = role_api(shop, SUPPORT_AGENT)
    assert api.post("/api/v1/tickets", TICKET, format="json").status_code == 201
    assert api.get("/api/v1/segments").status_code == 200
    refused = api.post("/api/v1/orders", order_payload, format="json")
    assert refused.status_code == 403
    assert "customers.add_order" in refused.json()["detail"]
    from customers.models import Order

    assert not Order.objects.exists()


def test_a_marketer_key_reads_segments_and_customers_but_opens_no_tickets(shop, role_api):
    api = role_api(shop, MARKETER)
    assert api.get("/api/v1/segments").status_code == 200
    assert api.get("/api/v1/customers").status_code == 200
    refused = api.post("/api/v1/tickets", TICKET, format="json")
    assert refused.status_code == 403 and "support.add_ticket" in refused.json()["detail"]


def test_a_manager_key_and_a_key_without_role_may_do_every_call(shop, api, order_payload, role_api):
    manager = role_api(shop, MANAGER)
    assert manager.post("/api/v1/orders", order_payload, format="json").status_code == 201
    assert manager.post("/api/v1/tickets", TICKET, format="json").status_code == 201
    assert api.post("/api/v1/tickets", {**TICKET, "subject": "Again"}, format="json").status_code == 201


def _api_views() -> list[type]:
    from django.urls import get_resolver

    return [p.callback.cls for p in get_resolver("crm.api.urls").url_patterns if hasattr(p.callback, "cls")]


def test_every_api_view_declares_what_a_role_needs_for_each_of_its_methods():
    """Each view says, beside its handlers, the permissions a role needs for every method it
    answers, and names only permissions that exist."""
    known = {f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")}
    views = _api_views()
    assert len(views) == 29
    for view in views:
        handled = {m.upper() for m in view.http_method_names if m not in ("head", "options") and hasattr(view, m)}
        declared = getattr(view, "required_permissions", None) or {}
        assert set(declared) == handled, view.__name__
        assert {name for names in declared.values() for name in names} <= known, view.__name__


class _Undeclared(APIView):
    """A new endpoint that forgot to say what it needs."""

    def get(self, request):
        return Response({"ok": True})


class _Declared(_Undeclared):
    required_permissions = {"GET": ("customers.view_customer",)}


@pytest.mark.parametrize("role", [None, MANAGER])
def test_a_view_that_declares_no_permissions_is_closed_to_every_key(shop, role):
    """Closed by default: neither the shop's integration key nor a manager's key may call a
    view that declares nothing; the same view with a declaration answers both."""
    from customers.services.api_keys import api_key_create

    issued = api_key_create(shop=shop, name="k", role=Group.objects.get(name=role) if role else None)
    request = APIRequestFactory().get("/api/v1/new", HTTP_AUTHORIZATION=f"Bearer {issued.key}")
    refused = _Undeclared.as_view()(request)
    assert refused.status_code == 403
    assert refused.data["detail"] == "This call declares no permissions, so it is closed to every key."
    request = APIRequestFactory().get("/api/v1/new", HTTP_AUTHORIZATION=f"Bearer {issued.key}")
    assert _Declared.as_view()(request).status_code == 200


@pytest.fixture
def roles_restored():
    """The test's role changes are rolled back with its transaction; their cached sets go too."""
    yield
    from customers.services.api_keys import role_permissions_forget

    role_permissions_forget(role_ids=list(Group.objects.values_list("pk", flat=True)))


def test_a_permission_taken_from_a_role_stops_its_keys_at_once(shop, role_api, roles_restored):
    api = role_api(shop, MARKETER)
    assert api.get("/api/v1/segments").status_code == 200  # the key and its role are cached now
    marketer = Group.objects.get(name=MARKETER)
    view_segment = Permission.objects.get(codename="view_segment", content_type__app_label="campaigns")
    marketer.permissions.remove(view_segment)
    refused = api.get("/api/v1/segments")
    assert refused.status_code == 403 and "campaigns.view_segment" in refused.json()["detail"]
    view_segment.group_set.add(marketer)  # from the permission's side
    assert api.get("/api/v1/segments").status_code == 200
    marketer.permissions.clear()
    assert api.get("/api/v1/segments").status_code == 403


def test_a_role_changed_in_the_admin_applies_to_its_keys_at_once(shop, role_api, admin_client, roles_restored):
    api = role_api(shop, MARKETER)
    assert api.get("/api/v1/customers").status_code == 200
    marketer = Group.objects.get(name=MARKETER)
    kept = list(marketer.permissions.exclude(codename="view_customer").values_list("pk", flat=True))
    saved = admin_client.post(
        reverse("admin:auth_group_change", args=[marketer.pk]), {"name": MARKETER, "permissions": kept}
    )
    assert saved.status_code == 302
    assert api.get("/api/v1/customers").status_code == 403
