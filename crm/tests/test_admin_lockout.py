"""Admin sign-in: repeated wrong passwords lock the account and the address out for a
while (django-axes), and the lockout can be lifted (issue 16, section 3)."""

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")


@pytest.fixture
def axes_on(settings):
    settings.AXES_ENABLED = True  # off in the test settings, so other tests' logins never trip it


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("ada", password="right-horse-battery", is_staff=True)


def sign_in(password, username="ada", address="10.0.0.1"):
    client = Client(REMOTE_ADDR=address)
    response = client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})
    return client, response


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_forty_wrong_passwords_then_the_right_one_is_refused(axes_on, staff, settings):
    for _ in range(40):
        client, response = sign_in("wrong")
        assert not signed_in(client)
    client, response = sign_in("right-horse-battery")
    assert not signed_in(client)
    assert response.status_code == 429
    assert "too many failed sign-in attempts" in response.content.decode()


def test_the_lockout_starts_at_the_limit(axes_on, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in("wrong")
    client, _ = sign_in("right-horse-battery")
    assert signed_in(client)  # under the limit, and a success clears the count
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("wrong")
    client, _ = sign_in("right-horse-battery")
    assert not signed_in(client)


def test_the_account_is_locked_from_any_address_and_the_address_for_any_account(
    axes_on, staff, django_user_model, settings
):
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in("wrong", address=f"10.0.1.{n}")  # one account, many addresses
    assert not signed_in(sign_in("right-horse-battery", address="10.0.2.1")[0])
    django_user_model.objects.create_user("bob", password="bobs-own-password", is_staff=True)
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in("wrong", username=f"guess{n}", address="10.0.3.1")  # one address, many accounts
    assert not signed_in(sign_in("bobs-own-password", username="bob", address="10.0.3.1")[0])
    assert signed_in(sign_in("bobs-own-password", username="bob", address="10.0.3.2")[0])


def test_axes_reset_lifts_a_lockout(axes_on, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in("wrong")
    assert not signed_in(sign_in("right-horse-battery")[0])
    call_command("axes_reset_username", "ada")
    call_command("axes_reset_ip", "10.0.0.1")
    assert signed_in(sign_in("right-horse-battery")[0])


def test_force_login_and_the_test_client_still_sign_in(axes_on, staff, client):
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200


def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw_not_a_forged_one(axes_on, staff, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(settings.AXES_FAILURE_LIMIT):
        client = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.7")
        client.post(LOGIN, {"username": f"guess{n}", "password": "wrong"})
    other = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="198.51.100.1")
    other.post(LOGIN, {"username": "ada", "password": "right-horse-battery"})
    assert signed_in(other)  # another client behind the same proxy is not locked out
    locked = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="5.6.7.8, 203.0.113.7")
    locked.post(LOGIN, {"username": "ada", "password": "right-horse-battery"})
    assert not signed_in(locked)
