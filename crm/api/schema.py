"""OpenAPI helpers: every endpoint documents the error statuses it can return."""

from drf_spectacular.utils import OpenApiResponse

from crm.api.errors import ErrorSerializer

ERROR_DESCRIPTIONS = {
    400: "Invalid input; `errors` names each field.",
    401: "Missing, unknown or revoked API key.",
    404: "Not found in this key's shop.",
    409: "Idempotency-Key reused with a different request.",
    413: "Request body over the size limit.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}
