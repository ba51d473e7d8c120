"""OpenAPI helpers: request bodies from the payload structs, and the error responses."""

import msgspec
from drf_spectacular.utils import OpenApiResponse

from campaigns.payloads import SegmentPreviewIn
from core.payloads import schema_hook
from crm.api.commerce.payloads import BulkOrdersDoc, CustomerIn, EventIn, OrderIn, ProductsIn, RefundIn
from crm.api.consent.payloads import SubscriptionIn
from crm.api.errors import ErrorSerializer
from crm.api.loyalty.payloads import AdjustIn, ConsumeIn, RedeemIn, ReferralIn
from crm.api.support.payloads import NpsIn, ReviewIn, TicketIn, TicketMessageIn

REF = "#/components/schemas/{name}"
PAYLOADS = [
    *(OrderIn, BulkOrdersDoc, CustomerIn, RefundIn, EventIn, ProductsIn, SubscriptionIn),
    SegmentPreviewIn,
    *(TicketIn, TicketMessageIn, ReviewIn, NpsIn),
    *(RedeemIn, ConsumeIn, AdjustIn, ReferralIn),
]
ERROR_DESCRIPTIONS = {
    400: "Invalid input; `errors` names each field.",
    401: "Missing, unknown or revoked API key.",
    403: "This key's role does not allow the call.",
    404: "Not found in this key's shop.",
    409: "A conflict: an Idempotency-Key reused with a different request, a reward code already used, a "
    "customer already referred, or a message to a closed ticket or with an external_id that names another.",
    410: "Expired: the reward code is past its date.",
    413: "Request body over the size limit.",
    429: "Too many failed authentications from this address: refused until Retry-After seconds have passed.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}


def payload(struct: type[msgspec.Struct]) -> dict:
    """The request body of an endpoint: a reference to the struct's schema component."""
    return {"application/json": {"$ref": REF.format(name=struct.__name__)}}


def add_payload_components(result, generator, request, public):
    """drf-spectacular post-processing hook: add the payload structs' JSON schemas, and mark
    the bodies that name one required (an empty body is a 400 on ``body``, whatever the
    struct; a generated client would otherwise let a call go without one)."""
    _, components = msgspec.json.schema_components(PAYLOADS, ref_template=REF, schema_hook=schema_hook)
    result.setdefault("components", {}).setdefault("schemas", {}).update(components)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if body and any(
                media.get("schema", {}).get("$ref", "").startswith(REF[:-6]) for media in body["content"].values()
            ):
                body["required"] = True
    return result


IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Makes the POST safe to retry: the same key with the same body returns the first successful "
    "response (header Idempotent-Replayed: true) for 24 hours and writes nothing again; the same key with "
    "another body is 409.",
}


def add_idempotency_header(result, generator, request, public):
    """drf-spectacular post-processing hook: every POST takes an Idempotency-Key
    (``crm.api.idempotency.ReplaySafePostMixin`` is on every view that answers POST), so it
    may answer 409; every call may answer 429 (``crm.api.throttling``). Both have the error
    body the operation's 401 has."""
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.get("responses", {})
            unauthorised = responses.get("401")
            if unauthorised is None:
                continue
            responses.setdefault("429", {**unauthorised, "description": ERROR_DESCRIPTIONS[429]})
            if method != "post":
                continue
            responses.setdefault("409", {**unauthorised, "description": ERROR_DESCRIPTIONS[409]})
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name") == "Idempotency-Key" for p in parameters):
                parameters.append(IDEMPOTENCY_PARAMETER)
    return result
