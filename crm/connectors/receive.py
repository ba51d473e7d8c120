"""Taking a webhook in: find the connection, check the signature on the raw bytes, store.

Nothing here parses the body: a delivery is verified (``hmac.compare_digest`` over the
bytes as they arrived) and written with one ``INSERT … ON CONFLICT DO NOTHING``, so the
platform gets its 200 well inside its timeout (Shopify: 5 s) and a re-sent delivery
writes nothing. Processing comes after (``crm.connectors.processing``).
"""

import base64
import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass
from functools import cache

import orjson
import psycopg
from django.db import connection as db_connection
from django.utils import timezone

from core.secrets import SecretUnreadable, secret_decrypt
from crm.connectors.models import Platform, ShopConnection, WebhookDelivery

# Shopify's headers worth keeping with the body (the rest say nothing about the data).
SHOPIFY_HEADERS = (
    "X-Shopify-Topic",
    "X-Shopify-Shop-Domain",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Event-Id",
    "X-Shopify-Triggered-At",
    "X-Shopify-API-Version",
)


WOOCOMMERCE_HEADERS = (
    "X-WC-Webhook-Source",
    "X-WC-Webhook-Topic",
    "X-WC-Webhook-Resource",
    "X-WC-Webhook-Event",
    "X-WC-Webhook-ID",
    "X-WC-Webhook-Delivery-ID",
)
# What WooCommerce sends, unsigned, when a webhook is created or its URL changed.
WOOCOMMERCE_PING = re.compile(rb"webhook_id=\d{1,20}")


class Refused(Exception):
    """The request is not taken; ``status`` is the answer (401, 400, 404)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def connection_secret(connection: ShopConnection) -> str:
    """The connection's signing secret: from its environment variable, or decrypted."""
    if connection.secret_env:
        return os.environ.get(connection.secret_env, "")
    if not connection.secret_encrypted:
        return ""
    try:
        return secret_decrypt(connection.secret_encrypted)
    except SecretUnreadable:
        return ""


@dataclass(frozen=True)
class Receiver:
    """What the intake needs of a connection, with its secret already read."""

    id: int
    shop_id: int
    domain: str
    secret: str


# Connections by token, kept in the process for a few seconds: a burst of deliveries costs
# one INSERT each, not a SELECT as well. A changed secret, domain or switch-off takes
# effect within CONNECTION_SECONDS; an unknown token is never kept.
CONNECTION_SECONDS = 10.0
_receivers: dict[tuple[str, str], tuple[float, Receiver]] = {}


def connection_for(*, token: str, platform: str) -> Receiver:
    now = time.monotonic()
    kept = _receivers.get((platform, token))
    if kept is not None and kept[0] > now:
        return kept[1]
    connection = (
        ShopConnection.objects.filter(token=token, platform=platform, is_active=True)
        .only("id", "shop_id", "domain", "secret_encrypted", "secret_env")
        .first()
    )
    if connection is None:
        raise Refused(404, "No such connection.")
    receiver = Receiver(connection.pk, connection.shop_id, connection.domain, connection_secret(connection))
    if len(_receivers) > 10_000:
        _receivers.clear()
    _receivers[(platform, token)] = (now + CONNECTION_SECONDS, receiver)
    return receiver


def connections_forget() -> None:
    """Read every connection afresh on its next delivery (after a change in the admin)."""
    _receivers.clear()


def signature_valid(*, secret: str, body: bytes, signature: str | None) -> bool:
    """Base64 HMAC-SHA256 of the raw body, compared in constant time (Shopify and WooCommerce alike)."""
    if not secret or not signature:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


_STORED = ("connection_id", "shop_id", "delivery_key", "topic", "headers", "body", "received_at", "status")
_STORED += ("result", "error", "attempts")


def delivery_store(*, connection: Receiver, key: str, topic: str, headers: dict, body: bytes) -> None:
    """One INSERT; a delivery already stored under ``key`` is left as it is.

    Written as one statement of its own, each value adapted by its model field, rather than
    through ``bulk_create``: compiling the ORM's INSERT was some 40 % of the intake's CPU,
    and a burst of webhooks is this and nothing else. On PostgreSQL the statement is
    prepared once per connection and its values bound on the server, the body sent as
    binary (``_insert_prepared``); elsewhere it goes through Django's cursor."""
    values = {
        "connection_id": connection.id,
        "shop_id": connection.shop_id,
        "delivery_key": key,
        "topic": topic,
        "headers": headers,
        "body": body,
        "received_at": timezone.now(),
        "status": WebhookDelivery.Status.PENDING,
        "result": "",
        "error": "",
        "attempts": 0,
    }
    params = [_fields()[name].get_db_prep_save(values[name], db_connection) for name in _STORED]
    if db_connection.vendor == "postgresql":
        _insert_prepared(params)
        return
    with db_connection.cursor() as cursor:
        cursor.execute(_insert_sql(), params)


@cache
def _fields() -> dict:
    """The delivery's model fields by column, read once the app registry is ready."""
    return {f.attname: f for f in WebhookDelivery._meta.concrete_fields}


@cache
def _insert_sql() -> str:
    qn = db_connection.ops.quote_name
    return (
        f"INSERT INTO {qn(WebhookDelivery._meta.db_table)} ({', '.join(qn(n) for n in _STORED)}) "
        f"VALUES ({', '.join(['%s'] * len(_STORED))}) ON CONFLICT DO NOTHING"
    )


class _PreparedCursor(psycopg.Cursor):
    """A server-binding psycopg cursor whose statements are prepared on first use."""

    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)


def _insert_prepared(params: list) -> None:
    """The INSERT through a server-binding cursor, prepared once per connection.

    Django's own cursors bind on the client: psycopg quotes a 2 KB body into the SQL text
    and PostgreSQL parses and plans the statement every time. Here the body goes as binary
    and the plan is kept per connection: about a tenth of the intake's CPU in the process.
    The cursor is wrapped as Django wraps its own, so a lost database is still Django's
    ``OperationalError`` (the 503 of ``crm.api.handlers``), the connection is marked for
    closing, and the statement is counted and logged like any other. A pooler in
    transaction mode in front of PostgreSQL must keep prepared statements per client
    (PgBouncer 1.21 or later, ``max_prepared_statements``)."""
    db_connection.ensure_connection()
    raw = _PreparedCursor(db_connection.connection)
    cursor = db_connection.make_debug_cursor(raw) if db_connection.queries_logged else db_connection.make_cursor(raw)
    with cursor:
        cursor.execute(_insert_sql(), params)


def shopify_receive(*, token: str, headers, body: bytes) -> None:
    """Verify and store a Shopify webhook; raises ``Refused`` when it is not taken."""
    connection = connection_for(token=token, platform=Platform.SHOPIFY)
    if not signature_valid(secret=connection.secret, body=body, signature=headers.get("X-Shopify-Hmac-Sha256")):
        raise Refused(401, "X-Shopify-Hmac-Sha256 does not match the body signed with this connection's secret.")
    domain = headers.get("X-Shopify-Shop-Domain", "")
    if domain.lower() != connection.domain.lower():
        # The same app secret may sign for several stores: a store's webhooks go to its own
        # URL, and Shopify names the store on every delivery.
        raise Refused(401, f"X-Shopify-Shop-Domain {domain or '(missing)'} is not this connection's store.")
    key = headers.get("X-Shopify-Webhook-Id", "").strip()
    topic = headers.get("X-Shopify-Topic", "").strip()
    if not key or len(key) > 255:
        raise Refused(400, "X-Shopify-Webhook-Id: missing or longer than 255 characters.")
    if not topic or len(topic) > 100:
        raise Refused(400, "X-Shopify-Topic: missing or longer than 100 characters.")
    kept = {name: headers[name] for name in SHOPIFY_HEADERS if name in headers}
    delivery_store(connection=connection, key=key, topic=topic, headers=kept, body=body)


def site_of(url: str) -> str:
    """A site URL as compared: no scheme, no trailing slash, lower case."""
    return re.sub(r"^https?://", "", url.strip().lower()).rstrip("/")


def woocommerce_receive(*, token: str, headers, body: bytes) -> bool:
    """Verify and store a WooCommerce webhook; False for the creation ping (answered, not
    stored). Raises ``Refused`` when it is not taken.

    WooCommerce gives each attempt a new X-WC-Webhook-Delivery-ID, so the delivery's key is
    what it is about: the resource, its id and its ``date_modified_gmt`` (a retry, or a
    second order.created for the same order, is the same key)."""
    connection = connection_for(token=token, platform=Platform.WOOCOMMERCE)
    signature = headers.get("X-WC-Webhook-Signature")
    if WOOCOMMERCE_PING.fullmatch(body.strip()):
        return False
    if not signature_valid(secret=connection.secret, body=body, signature=signature):
        raise Refused(401, "X-WC-Webhook-Signature does not match the body signed with this connection's secret.")
    source = headers.get("X-WC-Webhook-Source", "")
    if source and site_of(source) != site_of(connection.domain):
        raise Refused(401, f"X-WC-Webhook-Source {source} is not this connection's site.")
    topic = headers.get("X-WC-Webhook-Topic", "").strip()
    if not topic or len(topic) > 100:
        raise Refused(400, "X-WC-Webhook-Topic: missing or longer than 100 characters.")
    try:
        data = orjson.loads(body)  # after the signature: only to name the delivery
    except orjson.JSONDecodeError:
        raise Refused(400, "The body is not JSON.") from None
    if not isinstance(data, dict) or data.get("id") in (None, ""):
        raise Refused(400, "id: the body names no resource.")
    resource, _, event = topic.partition(".")
    key = f"{resource}:{data['id']}:{data.get('date_modified_gmt') or ''}" + (":deleted" if event == "deleted" else "")
    kept = {name: headers[name] for name in WOOCOMMERCE_HEADERS if name in headers}
    delivery_store(connection=connection, key=key[:255], topic=topic, headers=kept, body=body)
    return True
