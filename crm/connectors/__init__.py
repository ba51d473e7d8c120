"""Shops' own platforms in: Shopify's (and, later, WooCommerce's) webhooks (docs/integrations.md).

A request is verified and stored raw (``receive``), answered at once, and processed after
(``processing``) through the same pipeline as the REST API (``crm.pipeline``): the mapping
of each platform's payloads is in ``shopify``. Connections' signing secrets are kept
encrypted (``secrets``).
"""
