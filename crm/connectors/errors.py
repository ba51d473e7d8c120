from collections.abc import Callable, Mapping

import orjson


class DeliveryError(Exception):
    """A delivery that cannot be applied as it is (its payload is invalid: a field missing or
    out of range, a currency with no exchange rate): recorded on it as its error and not
    tried again, since the same body fails the same way; staff replay it once the cause is
    fixed (``processing``)."""


class DeliveryNotReady(DeliveryError):
    """A delivery that cannot be applied yet, for something that comes later (a refund whose
    order has not arrived): tried again after a backoff."""


def delivery_dispatch(delivery, topics: Mapping[str, Callable]) -> str:
    """Apply a stored delivery with its topic's handler (a platform's ``TOPICS``); returns
    what it did. A topic the CRM does not take is ignored; a body that is not a JSON object
    is a ``DeliveryError``."""
    handler = topics.get(delivery.topic)
    if handler is None:
        return f"topic {delivery.topic} is not one the CRM takes: ignored"
    try:
        body = orjson.loads(bytes(delivery.body))
    except orjson.JSONDecodeError as exc:
        raise DeliveryError(f"The body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise DeliveryError("The body is not a JSON object.")
    return handler(delivery, body)
