"""The segments' admin (``segments``) and its rule-builder form (``forms``)."""

from campaigns.admin import segments, spend  # noqa: F401 (registers the models)
