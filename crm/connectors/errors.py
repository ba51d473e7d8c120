from collections.abc import Callable, Mapping

import orjson


class DeliveryError(Exception):
    """A delivery that cannot be applied (yet): recorded on it as its error, tried again later."""


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
