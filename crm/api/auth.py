"""Shop API keys: ``Authorization: Bearer <key>``. A key acts for its shop and nothing else."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import BasePermission

from crm.api.throttling import auth_failure_record, auth_lockout_remaining, client_address
from customers.models import ApiKey, Shop
from customers.services.api_keys import api_key_authenticate


class ShopClient:
    """``request.user`` for an API call: the shop the key belongs to."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, shop: Shop):
        self.shop = shop

    def __str__(self):
        return f"shop:{self.shop.slug}"


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request)
        if not header:
            return None
        scheme, _, key = header.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise AuthenticationFailed("Send the API key as 'Authorization: Bearer <key>'.")
        # A key known from the cache passes at once, even from an address that is locked out.
        api_key = api_key_authenticate(key=key.strip(), query=False) or self._looked_up(request, key.strip())
        return ShopClient(api_key.shop), api_key

    def _looked_up(self, request, key: str) -> ApiKey:
        """The key from the database, unless its address keeps failing (429, no lookup)."""
        address = client_address(request)
        wait = auth_lockout_remaining(address=address)
        if wait:
            raise Throttled(wait=wait, detail="Too many failed authentications from this address.")
        api_key = api_key_authenticate(key=key)
        if api_key is None:
            auth_failure_record(address=address)
            raise AuthenticationFailed("Unknown or revoked API key.")
        return api_key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class HasShopApiKey(BasePermission):
    message = "An API key is required: 'Authorization: Bearer <key>'."

    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey)


# Each API view declares, beside its handlers, what a key with a role needs for each method:
#     required_permissions = {"POST": ("customers.add_order", "customers.change_order")}
Permissions = dict[str, tuple[str, ...]]


class RolePermission(BasePermission):
    """Closed by default: a view that declares no ``required_permissions`` is refused to
    every key, so a new endpoint is shut until it says what it needs. A key with a role may
    make only the declared calls whose permissions the role holds; a key without one is the
    shop's integration key and may make every call of a declared view (on its shop)."""

    def has_permission(self, request, view):
        granted = getattr(request.auth, "role_permissions", None)
        if not isinstance(request.auth, ApiKey):
            return True
        declared: Permissions | None = getattr(view, "required_permissions", None)
        if not declared:
            self.message = "This call declares no permissions, so it is closed to every key."
            return False
        if granted is None:
            # Views marked role_keys_only (manual adjustments) need a key with a role.
            self.message = "This call needs a key with a role that allows it (Manager), not an integration key."
            return not getattr(view, "role_keys_only", False)
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        needed = declared.get(method)
        if needed is None:
            self.message = "This call is open to integration keys only, not to keys with a role."
            return False
        missing = [p for p in needed if p not in granted]
        if missing:
            self.message = f"This key's role ({request.auth.role}) may not do this: it lacks {', '.join(missing)}."
        return not missing


def request_shop(request) -> Shop:
    return request.auth.shop


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes the shop API key in the OpenAPI schema as an HTTP bearer scheme."""

    target_class = ApiKeyAuthentication
    name = "ShopApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A shop's API key (manage.py create_shop)."}
