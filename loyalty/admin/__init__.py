"""The loyalty programme's admin (``programme``) and its forms (``forms``)."""

from loyalty.admin import programme  # noqa: F401 (registers the models)
