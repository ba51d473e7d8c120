"""The crm app's admin: the customer 360 page (``customer_360``), staff users and roles
(``users``), what operators read (``operations``: idempotency records, task failures,
scheduled runs), the manager's dashboard (``dashboard``: its URL), and the search pickers'
labels (``pickers``)."""

from crm.admin import customer_360, dashboard, operations, pickers, users  # noqa: F401 (each registers its models)
