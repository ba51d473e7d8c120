"""The ``Idempotency-Key`` header: a retried POST gets the first response, not a second run.

Every POST of the API honours it: each view that answers POST takes ``ReplaySafePostMixin``
(a test walks the URL patterns and checks that none is missing). How it holds under races:

1. A replay of a finished request finds the stored response and gets it back (no write).
2. Otherwise the request *claims* the key first: it inserts the (shop, key) row, unique in
   the database, and only then runs the view, in the same transaction. A concurrent request
   with the same key blocks on that row's unique index until the first one ends: if it
   committed, the insert fails and the second request replays the stored response; if it
   rolled back (a refused request), the second one claims the key and runs itself.
3. The response is written into the claimed row before the commit, so it is stored if and
   only if the view's writes are. A 4xx stores nothing and writes nothing: a corrected retry
   with the same key runs.
"""

import hashlib
from collections.abc import Callable

import orjson
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.errors import Conflict, DomainError
from crm.api.auth import request_shop
from crm.models import IdempotencyRecord
from customers.models import Shop

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def _fingerprint(request) -> str:
    """The request's method, path and body; key order in the JSON does not matter."""
    try:
        body = orjson.dumps(orjson.loads(request.body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        body = request.body
    return hashlib.sha256(request.method.encode() + request.path.encode() + body).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> HttpResponse:
    if record.request_fingerprint != fingerprint:
        raise Conflict(f"This {HEADER} was already used with a different request.", field=HEADER)
    return HttpResponse(
        record.response_body,
        status=record.status_code,
        content_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


def _claim(shop: Shop, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """Insert the key's row (in a savepoint); None when another request holds it already."""
    try:
        with transaction.atomic():
            # status_code 0 marks a claim in progress; it is never committed as such.
            return IdempotencyRecord.objects.create(
                shop=shop, key=key, request_fingerprint=fingerprint, status_code=0, response_body=""
            )
    except IntegrityError:
        return None


def idempotent(request, shop: Shop, handler: Callable[[], Response]) -> Response:
    """Run ``handler`` once per (shop, key); a successful response is stored and replayed."""
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise DomainError(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.", field=HEADER)
    if not key.isprintable():
        raise DomainError(f"{HEADER} must be printable characters (no NUL or control characters).", field=HEADER)
    fingerprint = _fingerprint(request)
    # Twice at most: a claim lost to a request whose record is then purged runs again.
    for _ in range(2):
        record = IdempotencyRecord.objects.filter(shop=shop, key=key).first()
        if record is not None:
            return _replay(record, fingerprint)
        with transaction.atomic():
            record = _claim(shop, key, fingerprint)
            if record is None:
                continue  # another request with this key committed first: replay it
            response = handler()
            if not 200 <= response.status_code < 300:
                transaction.set_rollback(True)  # nothing stored, nothing written
                return response
            # The body's bytes as the client receives them (DRF's JSON), kept as text so a
            # replay is byte for byte the same answer (jsonb would reorder the keys).
            record.status_code = response.status_code
            record.response_body = JSONRenderer().render(response.data).decode()
            record.save(update_fields=["status_code", "response_body"])
            return response
    raise Conflict(f"This {HEADER} is in use by another request; retry it.", field=HEADER)


class ReplaySafePostMixin:
    """Makes a view's POST honour ``Idempotency-Key`` (see the module docstring).

    The wrap happens in ``initial()``, after authentication and permissions: the key is
    scoped to the key's shop, and a refused call never claims it.
    """

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method == "POST":
            post = self.post

            def replay_safe_post(request, *args, **kwargs):
                return idempotent(request, request_shop(request), lambda: post(request, *args, **kwargs))

            self.post = replay_safe_post
