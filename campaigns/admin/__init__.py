"""The segments' admin (``segments``) and its rule-builder form (``forms``)."""

from campaigns.admin import (
    flows,  # noqa: F401,E402 (registers the flows)
    segments,  # noqa: F401 (registers the models)
)
