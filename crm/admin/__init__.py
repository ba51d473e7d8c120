"""The crm app's admin: the customer 360 page (``customer_360``), staff users and roles
(``users``), what operators read (``operations``: idempotency records, task failures,
scheduled runs), and the manager's dashboard (``dashboard``: its URL)."""

from crm.admin import customer_360, dashboard, operations, users  # noqa: F401 (each registers its models)
