"""A page a role may not open says so in words, with a way back, not a bare "403 Forbidden"."""

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from crm import roles

pytestmark = pytest.mark.django_db


def test_an_agent_opening_the_dashboard_is_told_why_and_led_back(client):
    agent = User.objects.create_user("agent1", password="pw", is_staff=True)
    agent.groups.add(Group.objects.get(name=roles.SUPPORT_AGENT))
    client.force_login(agent)

    response = client.get(reverse("admin:dashboard"))

    assert response.status_code == 403
    html = response.content.decode()
    assert "Your role does not give access to this page" in html
    assert 'href="/admin/"' in html
