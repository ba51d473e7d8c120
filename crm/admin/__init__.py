"""The crm app's admin: the customer 360 page (``customer_360``), staff users and roles
(``users``), what operators read (``operations``: idempotency records, task failures,
scheduled runs; ``connectors``: shops' Shopify and WooCommerce connections, their webhook
deliveries), privacy requests and erasures (``privacy``), and outbound webhooks (``webhooks``: endpoints and the
delivery log). The site itself (start pages, the dashboard's URL, the search pickers'
labels) is ``crm.admin_site``."""

from crm.admin import (  # noqa: F401 (each registers its models)
    connectors,
    customer_360,
    merging,
    operations,
    privacy,
    users,
    webhooks,
)
