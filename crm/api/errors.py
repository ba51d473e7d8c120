"""One error body for the whole API: ``{"detail": "...", "errors": {"field.path": ["..."]}}``.

Nested fields are named by path (``customer.email``, ``lines[2].quantity``), so a client
always learns which field to fix. Payload errors come named already (``crm.api.*.payloads``);
DRF's own (filters, for example) are flattened here.
"""

from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.errors import DomainError
from crm.api.handlers import (
    DATABASE_RETRY_AFTER_SECONDS,
    DATABASE_UNAVAILABLE,
    DATABASE_UNAVAILABLE_DETAIL,
    log_database_unavailable,
)


def flatten_errors(data, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as ``{"customer.email": [...], "lines[2].quantity": [...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "non_field_errors" and prefix:
                name = prefix
            elif isinstance(key, int):  # a list's item errors, keyed by index
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in flatten_errors(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(data, list) and any(isinstance(item, dict | list) for item in data):
        for i, item in enumerate(data):
            for k, v in flatten_errors(item, f"{prefix}[{i}]").items():
                out.setdefault(k, []).extend(v)
    elif isinstance(data, list):
        out[prefix or "non_field_errors"] = [str(item) for item in data]
    else:
        out[prefix or "non_field_errors"] = [str(data)]
    return out


def error_body(detail: str, errors: dict[str, list[str]] | None = None) -> dict:
    return {"detail": detail, "errors": errors or {}}


def not_found(what: str) -> Response:
    """404 for something outside the key's shop, or not there at all: the same answer."""
    return Response(error_body(f"No such {what} in this shop."), status=404)


def api_exception_handler(exc, context):
    if isinstance(exc, DATABASE_UNAVAILABLE):
        # 503, so that clients retry; logged, as Django would have logged the 500.
        log_database_unavailable(context["request"], exc)
        response = Response(error_body(DATABASE_UNAVAILABLE_DETAIL), status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, DomainError):
        field_errors = getattr(exc, "errors", None) or {exc.field: [exc.message]}
        return Response(error_body(exc.message, field_errors), status=exc.status_code)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(response.data)
        first = next(iter(errors.items()), ("", ["Invalid input."]))
        response.data = error_body(f"Invalid input: {first[0]}: {first[1][0]}", errors)
    elif isinstance(exc, exceptions.ParseError):
        response.data = error_body(str(exc.detail), {"body": [str(exc.detail)]})
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else str(response.data)
        response.data = error_body(str(detail))
    return response


class ErrorSerializer(serializers.Serializer):
    """The error body, for the OpenAPI schema."""

    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
