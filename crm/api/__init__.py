"""The REST API under /api/v1/: thin views that validate, call one service, and serialise."""
