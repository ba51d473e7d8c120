"""The support desk's admin (``desk``: queue, ticket page, macros, reviews) and its forms (``forms``)."""

from support.admin import desk  # noqa: F401 (registers the models)
