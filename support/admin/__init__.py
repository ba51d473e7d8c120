"""The support desk's admin: ``desk`` (queue, ticket page, macros, reviews) with its forms
(``forms``), and the emails that reached the desk (``inbound``)."""

from support.admin import desk, inbound  # noqa: F401 (registers the models)
