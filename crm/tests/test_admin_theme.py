"""The admin as a product (issue 19): its name and icon, a sidebar grouped by job that shows
each person only what they may open, and each role's start page."""

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from crm import roles

pytestmark = pytest.mark.django_db


def staff(role: str | None, username: str = "someone") -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def sidebar_titles(response) -> list[str]:
    return [item["title"] for group in response.context["sidebar_navigation"] for item in group["items"]]


def test_the_admin_carries_the_products_name_and_icon_and_no_view_site_link(admin_client):
    html = admin_client.get(reverse("admin:index"), follow=True).content.decode()
    assert "E-commerce CRM" in html
    assert "Django administration" not in html and "Django site admin" not in html
    assert 'rel="icon"' in html and "crm/favicon.svg" in html
    assert "View site" not in html


def test_the_sidebar_is_grouped_by_job(admin_client):
    response = admin_client.get(reverse("admin:customers_order_changelist"))
    groups = [g["title"] for g in response.context["sidebar_navigation"]]
    assert groups == [
        *("Start", "Support", "Customers", "Marketing", "Email", "Loyalty", "Commerce", "Settings", "Operations")
    ]


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        (
            roles.SUPPORT_AGENT,
            {"Tickets", "Customers", "Macros"},
            {"API keys", "Shops", "Staff", "Segment members", "Task failures", "Flows", "Marketing spend"},
        ),
        (
            roles.MARKETER,
            {"Segments", "Customers", "Earning rules", "Campaigns", "Flows", "Marketing spend"},
            {"API keys", "Staff", "Task failures"},
        ),
    ],
)
def test_each_role_sees_only_the_pages_it_may_open(client, role, shown, hidden):
    client.force_login(staff(role))
    titles = set(sidebar_titles(client.get(reverse("admin:crm_customer360_changelist"))))
    assert shown <= titles
    assert not hidden & titles


@pytest.mark.parametrize(
    ("role", "start"),
    [
        (roles.SUPPORT_AGENT, "admin:support_ticket_changelist"),
        (roles.MARKETER, "admin:campaigns_segment_changelist"),
        (roles.MANAGER, "admin:dashboard"),
    ],
)
def test_each_role_lands_on_its_start_page(client, role, start):
    client.force_login(staff(role))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response.url == reverse(start)


def test_signing_in_without_a_next_page_leads_to_the_start_page(client):
    staff(roles.SUPPORT_AGENT, "agent1")
    response = client.post(reverse("admin:login"), {"username": "agent1", "password": "pw"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:support_ticket_changelist")


def test_a_superuser_lands_on_the_dashboard_and_a_person_without_a_role_on_the_index(admin_client, client):
    assert admin_client.get(reverse("admin:index")).url == reverse("admin:dashboard")
    client.force_login(staff(None))
    assert client.get(reverse("admin:index")).status_code == 200
