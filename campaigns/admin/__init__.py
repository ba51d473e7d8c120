"""The segments' admin (``segments``) and its rule-builder form (``forms``)."""

from campaigns.admin import segments  # noqa: F401 (registers the models)
