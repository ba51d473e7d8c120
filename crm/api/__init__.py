"""The REST API under /api/v1/: thin views that validate, call one service, and serialise.

One package per domain (``commerce``, ``loyalty``, ``support``, ``segments``) holds its
endpoints' payloads, serializers and views, each view declaring the permissions it needs;
the modules here are what every endpoint shares (keys and roles, throttling, idempotency,
errors, the schema's helpers, the url table)."""
