"""The ``Idempotency-Key`` header: a retried request gets the first response, not a second run."""

import hashlib
from collections.abc import Callable

import orjson
from django.db import IntegrityError, transaction
from rest_framework.response import Response

from crm.models import IdempotencyRecord
from customers.models import Shop
from customers.services.errors import Conflict, DomainError

HEADER = "Idempotency-Key"


def _fingerprint(request) -> str:
    """The request's method, path and body; key order in the JSON does not matter."""
    try:
        body = orjson.dumps(orjson.loads(request.body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        body = request.body
    return hashlib.sha256(request.method.encode() + request.path.encode() + body).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.request_fingerprint != fingerprint:
        raise Conflict(f"This {HEADER} was already used with a different request.", field=HEADER)
    return Response(record.response_body, status=record.status_code, headers={"Idempotent-Replayed": "true"})


def idempotent(request, shop: Shop, handler: Callable[[], Response]) -> Response:
    """Run ``handler`` once per (shop, key); successful responses are stored and replayed."""
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not key or len(key) > 255:
        raise DomainError(f"{HEADER} must be 1 to 255 characters.", field=HEADER)
    fingerprint = _fingerprint(request)
    record = IdempotencyRecord.objects.filter(shop=shop, key=key).first()
    if record is not None:
        return _replay(record, fingerprint)
    try:
        with transaction.atomic():
            response = handler()
            if 200 <= response.status_code < 300:
                # Inserted in the handler's transaction: the response is stored if and only if
                # its writes are. A concurrent request with the same key blocks here, then fails.
                IdempotencyRecord.objects.create(
                    shop=shop,
                    key=key,
                    request_fingerprint=fingerprint,
                    status_code=response.status_code,
                    response_body=orjson.loads(orjson.dumps(response.data, default=str)),
                )
            return response
    except IntegrityError:
        record = IdempotencyRecord.objects.filter(shop=shop, key=key).first()
        if record is None:
            raise
        return _replay(record, fingerprint)
