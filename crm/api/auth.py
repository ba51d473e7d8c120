"""Shop API keys: ``Authorization: Bearer <key>``. A key acts for its shop and nothing else."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

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
        api_key = api_key_authenticate(key=key.strip())
        if api_key is None:
            raise AuthenticationFailed("Unknown or revoked API key.")
        return ShopClient(api_key.shop), api_key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class HasShopApiKey(BasePermission):
    message = "An API key is required: 'Authorization: Bearer <key>'."

    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey)


def request_shop(request) -> Shop:
    return request.auth.shop


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes the shop API key in the OpenAPI schema as an HTTP bearer scheme."""

    target_class = ApiKeyAuthentication
    name = "ShopApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A shop's API key (manage.py create_shop)."}
