"""Wrong API keys are cheap and bounded: an unknown key is looked up once and then answered
from the cache, and an address that keeps failing is refused with 429 before any lookup,
while valid keys keep working."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from crm.api.throttling import auth_failures_reset
from customers.models import ApiKey
from customers.services import api_keys
from customers.services.api_keys import api_key_create, api_key_revoke, api_keys_forget

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.7"
SHOP_SERVER = "198.51.100.20"
UNKNOWN = "crm_0123456789ab_notakeyatallnotakeyatallnotakeyatall"


@pytest.fixture(autouse=True)
def fresh_cache():
    """The cache outlives a test (on Redis, a run): start with the addresses and the unknown
    key forgotten."""
    for address in (ATTACKER, SHOP_SERVER):
        auth_failures_reset(address=address)
    api_keys_forget(prefixes=[UNKNOWN.split("_")[1]])
    yield
    for address in (ATTACKER, SHOP_SERVER):
        auth_failures_reset(address=address)


def get(key: str, address: str = ATTACKER):
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client.get("/api/v1/customers")


def test_an_unknown_key_costs_one_query_then_none(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert get(UNKNOWN).status_code == 401
    with django_assert_num_queries(0):
        response = get(UNKNOWN)

    assert response.status_code == 401
    assert response.json()["detail"] == "Unknown or revoked API key."
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_revoked_key_is_refused_at_once_and_then_from_the_cache(shop, django_assert_num_queries):
    issued = api_key_create(shop=shop, name="old")
    assert get(issued.key).status_code == 200
    api_key_revoke(api_key=issued.api_key)

    assert get(issued.key).status_code == 401
    with django_assert_num_queries(0):
        assert get(issued.key).status_code == 401


def test_repeated_failures_from_one_address_are_429_with_retry_after(shop_and_key, django_assert_num_queries):
    limit = settings.API_AUTH_FAILURE_LIMIT
    statuses = [get(f"crm_{i:012x}_guess").status_code for i in range(limit)]
    with django_assert_num_queries(0):  # refused before any lookup
        refused = get("crm_ffffffffffff_another_guess")

    assert statuses == [401] * limit
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= settings.API_AUTH_FAILURE_SECONDS
    # Another address is not affected: a valid key works there, and a wrong one is a plain 401.
    assert get(shop_and_key[1].key, address=SHOP_SERVER).status_code == 200
    assert get(UNKNOWN, address=SHOP_SERVER).status_code == 401


def test_a_valid_key_from_a_locked_out_address_still_works(shop_and_key):
    """Only failures are refused: a shop's server that shares its address with a client
    sending a stale key keeps working (its key is verified from the cache, with no query)."""
    key = shop_and_key[1].key
    assert get(key).status_code == 200
    for i in range(settings.API_AUTH_FAILURE_LIMIT):
        get(f"crm_{i:012x}_guess")
    assert get(UNKNOWN).status_code == 429

    assert get(key).status_code == 200
    # The right key never counts as a failure, and never lifts the lockout.
    assert get(UNKNOWN).status_code == 429


def test_a_key_in_use_is_cached_again_before_its_entry_runs_out(shop_and_key):
    """The lockout spares only keys in the cache: one used every second must never drop out
    of it (it did after a minute, and a shop behind a NAT got 429 once a minute)."""
    key = shop_and_key[1].key
    assert get(key).status_code == 200
    cache_key = api_keys._cache_key(key.split("_")[1])
    cached = cache.get(cache_key)
    cached.last_used_at = timezone.now() - timedelta(seconds=api_keys.CACHE_SECONDS * 2 // 3)
    cache.set(cache_key, cached, api_keys.CACHE_SECONDS)  # as if cached 40 s ago

    assert get(key).status_code == 200

    assert timezone.now() - cache.get(cache_key).last_used_at < timedelta(seconds=5)  # cached afresh
    assert api_keys.LAST_USED_RESOLUTION.total_seconds() < api_keys.CACHE_SECONDS


def test_a_key_revoked_while_cached_is_not_cached_again(shop_and_key):
    key = shop_and_key[1].key
    assert get(key).status_code == 200
    cache_key = api_keys._cache_key(key.split("_")[1])
    stale = cache.get(cache_key)
    ApiKey.objects.filter(pk=stale.pk).update(revoked_at=timezone.now())
    stale.last_used_at = timezone.now() - timedelta(minutes=5)
    cache.set(cache_key, stale, api_keys.CACHE_SECONDS)  # a request read it just before the revoke

    get(key)

    assert cache.get(cache_key).last_used_at == stale.last_used_at  # left to run out, not renewed


def test_malformed_keys_count_as_failures():
    for _ in range(settings.API_AUTH_FAILURE_LIMIT):
        assert get("not-a-key").status_code == 401

    assert get("not-a-key").status_code == 429


def test_failures_below_the_limit_are_plain_401s(shop_and_key):
    for _ in range(settings.API_AUTH_FAILURE_LIMIT - 1):
        assert get(UNKNOWN).status_code == 401
    assert get(shop_and_key[1].key).status_code == 200


def test_a_forged_forwarded_for_header_does_not_give_a_fresh_address():
    """Without a proxy in front (TRUSTED_PROXY_COUNT=0, the default) the address is the socket's."""
    client = APIClient(REMOTE_ADDR=ATTACKER)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {UNKNOWN}")
    for i in range(settings.API_AUTH_FAILURE_LIMIT):
        client.get("/api/v1/customers", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")

    assert client.get("/api/v1/customers", HTTP_X_FORWARDED_FOR="192.0.2.250").status_code == 429


def test_behind_the_proxy_the_address_is_the_one_the_proxy_saw(settings):
    """With TRUSTED_PROXY_COUNT=1 (nginx in front) the client is the last X-Forwarded-For entry:
    one client's failures do not lock out the others coming through the same proxy."""
    settings.TRUSTED_PROXY_COUNT = 1
    client = APIClient(REMOTE_ADDR="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {UNKNOWN}")
    for _ in range(settings.API_AUTH_FAILURE_LIMIT):
        client.get("/api/v1/customers", HTTP_X_FORWARDED_FOR=f"10.9.9.9, {ATTACKER}")

    assert client.get("/api/v1/customers", HTTP_X_FORWARDED_FOR=f"10.1.1.1, {ATTACKER}").status_code == 429
    assert client.get("/api/v1/customers", HTTP_X_FORWARDED_FOR=SHOP_SERVER).status_code == 401
