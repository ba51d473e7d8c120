"""The admin's roles hold: no role grants itself or anyone more than it has, and every
changelist action needs a permission the role holds (issue 16, section 3)."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import Client, RequestFactory
from django.urls import reverse

from campaigns.models import Segment
from crm.roles import MANAGER, MARKETER, SUPPORT_AGENT
from customers.models import Product
from customers.tests.factories import CustomerFactory, OrderFactory
from loyalty.models import Referral
from support.models import Review

pytestmark = pytest.mark.django_db

ROLES = [SUPPORT_AGENT, MARKETER, MANAGER]
STANDARD = ("view", "add", "change", "delete")


def staff(django_user_model, role, **extra):
    user = django_user_model.objects.create_user(role.lower().replace(" ", "_"), is_staff=True, **extra)
    user.groups.add(Group.objects.get(name=role))
    return user


def user_form(client, user, **changes) -> dict:
    """The user change page's form as the browser posts it, with ``changes``."""
    page = client.get(reverse("admin:auth_user_change", args=[user.pk]))
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        if field.disabled or name == "password":
            continue
        value = form.initial.get(name, field.initial)
        if name in ("groups", "user_permissions"):
            data[name] = [getattr(v, "pk", v) for v in (value or [])]
        elif name in ("last_login", "date_joined"):
            data[f"{name}_0"], data[f"{name}_1"] = (
                (value.strftime("%Y-%m-%d"), value.strftime("%H:%M:%S")) if value else ("", "")
            )
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = value
    return data


# 1. Superuser, staff, groups and permissions: for superusers only.


def test_a_manager_cannot_make_themself_superuser_or_give_themself_permissions(client, django_user_model):
    manager = staff(django_user_model, MANAGER)
    client.force_login(manager)
    grant = Permission.objects.get(codename="view_customer", content_type__app_label="customers")
    extra_group = Group.objects.create(name="Extra")
    data = user_form(
        client, manager, is_superuser="on", user_permissions=[grant.pk], groups=[extra_group.pk], first_name="Max"
    )
    response = client.post(reverse("admin:auth_user_change", args=[manager.pk]), data)
    assert response.status_code in (200, 302)
    manager.refresh_from_db()
    assert manager.first_name == "Max"  # the rest of the form still saves
    assert manager.is_superuser is False
    assert list(manager.user_permissions.all()) == []
    assert list(manager.groups.values_list("name", flat=True)) == [MANAGER]


def test_a_manager_cannot_give_another_user_staff_status_a_role_or_superuser(client, django_user_model):
    manager = staff(django_user_model, MANAGER)
    other = django_user_model.objects.create_user("clerk")
    client.force_login(manager)
    data = user_form(client, other, is_staff="on", is_superuser="on", groups=[Group.objects.get(name=MANAGER).pk])
    client.post(reverse("admin:auth_user_change", args=[other.pk]), data)
    other.refresh_from_db()
    assert (other.is_staff, other.is_superuser, other.groups.count()) == (False, False, 0)


def test_a_manager_cannot_take_a_role_away_or_demote_staff(client, django_user_model):
    manager = staff(django_user_model, MANAGER)
    agent = staff(django_user_model, SUPPORT_AGENT)
    client.force_login(manager)
    client.post(reverse("admin:auth_user_change", args=[agent.pk]), user_form(client, agent, is_staff=False, groups=[]))
    agent.refresh_from_db()
    assert agent.is_staff and list(agent.groups.values_list("name", flat=True)) == [SUPPORT_AGENT]


def test_a_manager_cannot_change_a_superuser_or_their_password(client, django_user_model, admin_user):
    manager = staff(django_user_model, MANAGER)
    client.force_login(manager)
    page = client.get(reverse("admin:auth_user_change", args=[admin_user.pk]))
    assert page.status_code == 200 and page.context["has_change_permission"] is False  # view only
    assert (
        client.post(reverse("admin:auth_user_change", args=[admin_user.pk]), {"username": "taken"}).status_code == 403
    )
    password = reverse("admin:auth_user_password_change", args=[admin_user.pk])
    assert client.post(password, {"password1": "x9-Long-Passw0rd", "password2": "x9-Long-Passw0rd"}).status_code == 403
    changelist = reverse("admin:auth_user_changelist")
    client.post(changelist, {"action": "delete_selected", "_selected_action": [admin_user.pk], "post": "yes"})
    admin_user.refresh_from_db()
    assert admin_user.username == "admin" and admin_user.check_password("password")


def test_a_manager_cannot_take_over_another_staff_members_account(client, django_user_model):
    """Setting a peer's password would let a Manager sign in as them: another staff member's
    account is view-only, its password and deletion included. Their own account and accounts
    without staff status stay theirs to manage."""
    manager = staff(django_user_model, MANAGER)
    peer = django_user_model.objects.create_user("manager_two", password="peer-Passw0rd-1", is_staff=True)
    peer.groups.add(Group.objects.get(name=MANAGER))
    clerk = django_user_model.objects.create_user("clerk", password="clerk-Passw0rd-1")
    client.force_login(manager)
    new = {"password1": "Taken-over-98765", "password2": "Taken-over-98765"}

    assert client.post(reverse("admin:auth_user_password_change", args=[peer.pk]), new).status_code == 403
    assert client.post(reverse("admin:auth_user_delete", args=[peer.pk]), {"post": "yes"}).status_code == 403
    changelist = reverse("admin:auth_user_changelist")
    client.post(changelist, {"action": "delete_selected", "_selected_action": [peer.pk], "post": "yes"})
    peer.refresh_from_db()
    assert peer.check_password("peer-Passw0rd-1")

    assert client.post(reverse("admin:auth_user_password_change", args=[clerk.pk]), new).status_code == 302
    assert client.post(reverse("admin:auth_user_password_change", args=[manager.pk]), new).status_code == 302
    clerk.refresh_from_db()
    manager.refresh_from_db()
    assert clerk.check_password("Taken-over-98765") and manager.check_password("Taken-over-98765")


def test_a_manager_cannot_change_what_a_role_grants(client, django_user_model):
    manager = staff(django_user_model, MANAGER)
    client.force_login(manager)
    support = Group.objects.get(name=SUPPORT_AGENT)
    before = set(support.permissions.values_list("pk", flat=True))
    response = client.post(
        reverse("admin:auth_group_change", args=[support.pk]),
        {"name": SUPPORT_AGENT, "permissions": list(Permission.objects.values_list("pk", flat=True))},
    )
    assert response.status_code == 403
    assert set(support.permissions.values_list("pk", flat=True)) == before
    assert client.post(reverse("admin:auth_group_add"), {"name": "Root", "permissions": [1]}).status_code == 403


@pytest.mark.parametrize("role", [SUPPORT_AGENT, MARKETER])
def test_other_roles_cannot_open_the_user_admin_at_all(client, django_user_model, role):
    user = staff(django_user_model, role)
    client.force_login(user)
    assert client.get(reverse("admin:auth_user_change", args=[user.pk])).status_code == 403
    assert client.post(reverse("admin:auth_user_change", args=[user.pk]), {"is_superuser": "on"}).status_code == 403
    user.refresh_from_db()
    assert not user.is_superuser


def test_a_superuser_still_grants_roles_staff_and_superuser(admin_client, django_user_model):
    other = django_user_model.objects.create_user("clerk")
    data = user_form(
        admin_client, other, is_staff="on", is_superuser="on", groups=[Group.objects.get(name=MARKETER).pk]
    )
    assert admin_client.post(reverse("admin:auth_user_change", args=[other.pk]), data).status_code == 302
    other.refresh_from_db()
    assert (other.is_staff, other.is_superuser, list(other.groups.values_list("name", flat=True))) == (
        True,
        True,
        [MARKETER],
    )


# 2. Every changelist action needs the permission it declares.


@pytest.fixture
def objects_of_every_action(shop):
    customer = CustomerFactory()
    OrderFactory(customer=customer, shop=shop)
    Segment.objects.create(name="Germany")
    product = Product.objects.create(shop=shop, sku="MUG-1", name="Mug")
    Review.objects.create(shop=shop, customer=customer, product=product, rating=4, created_at="2026-11-01T00:00Z")
    Referral.objects.create(
        referrer=customer, referee=CustomerFactory(), group_id=shop.group_id, status=Referral.Status.REVIEW
    )


def snapshot() -> dict:
    """Every row of every model the admin shows, and of users and groups."""
    models = {*admin.site._registry, *apps.get_app_config("auth").get_models()}
    return {
        model._meta.label: sorted(map(repr, model._default_manager.values())) for model in models if model._meta.managed
    }


def test_every_action_declares_a_permission():
    for model, model_admin in admin.site._registry.items():
        for action in model_admin._get_base_actions():
            assert getattr(action.func, "allowed_permissions", None), f"{model._meta.label}: {action.name}"


@pytest.mark.parametrize("role", ROLES)
def test_every_action_is_offered_and_runs_only_with_its_permission(django_user_model, role, objects_of_every_action):
    user = staff(django_user_model, role)
    client = Client()
    client.force_login(user)
    request = RequestFactory().get("/admin/")
    request.user = user
    checked = 0
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        offered = model_admin.get_actions(request)
        selected = list(model._default_manager.values_list("pk", flat=True)[:1])
        for action in model_admin._get_base_actions():
            needs = getattr(action.func, "allowed_permissions", ())
            allowed = any(
                getattr(model_admin, f"has_{p}_permission")(request)
                and (p not in STANDARD or user.has_perm(f"{opts.app_label}.{p}_{opts.model_name}"))
                for p in needs
            )
            assert (action.name in offered) == allowed, f"{role}: {opts.label}.{action.name} needs {needs}"
            if allowed or not selected:
                continue
            before = snapshot()
            response = client.post(
                changelist, {"action": action.name, "_selected_action": selected, "index": 0, "post": "yes"}
            )
            assert response.status_code in (200, 302, 403), f"{role}: {opts.label}.{action.name}"
            assert snapshot() == before, f"{role} ran {opts.label}.{action.name} without {needs}"
            checked += 1
    assert checked or role == MANAGER


def test_the_issues_examples_are_refused(client, django_user_model, objects_of_every_action):
    segment = Segment.objects.get(name="Germany")
    names = sorted(Segment.objects.values_list("name", flat=True))
    client.force_login(staff(django_user_model, SUPPORT_AGENT))
    segments = reverse("admin:campaigns_segment_changelist")
    for action in ("duplicate", "refresh_now"):
        client.post(segments, {"action": action, "_selected_action": [segment.pk], "index": 0})
    assert sorted(Segment.objects.values_list("name", flat=True)) == names
    client.force_login(staff(django_user_model, MARKETER))
    review = Review.objects.get()
    client.post(reverse("admin:support_review_changelist"), {"action": "reject", "_selected_action": [review.pk]})
    review.refresh_from_db()
    assert review.status == Review.Status.PENDING
