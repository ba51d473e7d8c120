"""API keys: created once (the clear key is returned and never stored), checked, revoked."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from customers.models import ApiKey, Shop

KEY_PREFIX = "crm"
# last_used_at is refreshed at most this often, so a busy key does not write on every request.
# Each refresh caches the key again, and it is half of CACHE_SECONDS: a key in use never
# drops out of the cache, so an address lockout (which refuses before any lookup) never
# reaches it. At a full minute it did, once a minute, for a shop behind a NAT.
LAST_USED_RESOLUTION = timedelta(seconds=30)
CACHE_SECONDS = 60
# A prefix no active key has is remembered this long, so a wrong key repeated costs no query.
NEGATIVE_CACHE_SECONDS = 30
_UNKNOWN = "unknown"


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    key: str  # the clear key: show it once, it cannot be recovered


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_material() -> tuple[str, str, str]:
    """A new key: (prefix, clear key, hash). Only the prefix and the hash are stored."""
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return prefix, key, _hash(key)


def api_key_create(*, shop: Shop, name: str = "default", role=None) -> IssuedKey:
    prefix, key, key_hash = api_key_material()
    api_key = ApiKey.objects.create(shop=shop, name=name, prefix=prefix, key_hash=key_hash, role=role)
    return IssuedKey(api_key=api_key, key=key)


def _cache_key(prefix: str) -> str:
    return f"crm:api-key:{prefix}"


def api_keys_forget(*, prefixes: list[str]) -> None:
    """Drop cached lookups, so a revoked or deleted key stops working at once."""
    cache.delete_many([_cache_key(p) for p in prefixes])


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at", "updated_at"])
    api_keys_forget(prefixes=[api_key.prefix])
    return api_key


def api_key_authenticate(*, key: str, query: bool = True) -> ApiKey | None:
    """The active key matching ``key``, with its shop, or None. Constant-time comparison.

    The lookup is cached (Redis when configured) for CACHE_SECONDS: every API request
    needs it. A prefix that matches no active key is cached as unknown for
    NEGATIVE_CACHE_SECONDS. Revoking or deleting a key, or changing its shop, clears the
    entry. With ``query=False`` only the cache is asked (None also when it does not know).
    """
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    cache_key = _cache_key(parts[1])
    api_key = cache.get(cache_key)
    if isinstance(api_key, str):  # _UNKNOWN
        return None
    if api_key is None:
        if not query:
            return None
        api_key = (
            ApiKey.objects.select_related("shop")
            .filter(prefix=parts[1], revoked_at__isnull=True, shop__is_active=True)
            .first()
        )
        if api_key is None:
            cache.set(cache_key, _UNKNOWN, NEGATIVE_CACHE_SECONDS)
            return None
        cache.set(cache_key, api_key, CACHE_SECONDS)
    if not hmac.compare_digest(api_key.key_hash, _hash(key)):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        # Only while still active: a key revoked since it was cached is not cached again.
        if ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(last_used_at=now):
            api_key.last_used_at = now
            cache.set(cache_key, api_key, CACHE_SECONDS)
    # The permissions its role grants, cached per role (not with the key), so that a change
    # to the role reaches every key at once: see role_permissions_forget.
    api_key.role_permissions = role_permissions(role_id=api_key.role_id) if api_key.role_id else None
    return api_key


def _role_cache_key(role_id: int) -> str:
    return f"crm:role-permissions:{role_id}"


def role_permissions(*, role_id: int) -> frozenset[str]:
    """What a role (a staff group) grants, as "app_label.codename"; cached for CACHE_SECONDS
    and dropped whenever the group's permissions change."""
    cache_key = _role_cache_key(role_id)
    granted = cache.get(cache_key)
    if granted is None:
        granted = frozenset(
            f"{app}.{codename}"
            for app, codename in Permission.objects.filter(group=role_id).values_list(
                "content_type__app_label", "codename"
            )
        )
        cache.set(cache_key, granted, CACHE_SECONDS)
    return granted


def role_permissions_forget(*, role_ids) -> None:
    """Drop the cached permissions of these roles, now and again when the transaction that
    changes them commits (a request in between may have cached the old set)."""
    keys = [_role_cache_key(role_id) for role_id in role_ids]
    if keys:
        cache.delete_many(keys)
        transaction.on_commit(lambda: cache.delete_many(keys))


def role_permissions_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """``m2m_changed`` receiver for ``Group.permissions``: from the group's side (the admin's
    group page, ``group.permissions.remove``) or the permission's (``perm.group_set.add``).
    A signal because a role is edited by Django's own admin and by data migrations, not
    only by our services; without it a removed permission kept working for CACHE_SECONDS."""
    if action not in ("post_add", "post_remove", "post_clear", "pre_clear"):
        return
    if not reverse:
        role_permissions_forget(role_ids=[instance.pk])
    elif action == "pre_clear":
        role_permissions_forget(role_ids=list(instance.group_set.values_list("pk", flat=True)))
    else:
        role_permissions_forget(role_ids=list(pk_set or ()))


def shop_create(*, slug: str, name: str) -> tuple[Shop, IssuedKey]:
    with transaction.atomic():
        shop = Shop.objects.create(slug=slug, name=name)
        return shop, api_key_create(shop=shop)
