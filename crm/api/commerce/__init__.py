"""The commerce API: orders (one and bulk), refunds, customers and their profiles, events.
What shops send (``payloads``), what the API returns (``serializers``, ``profiles``), the
customer list's filters, and the views, each declaring the permissions a role needs."""
