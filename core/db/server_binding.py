"""A cursor that binds parameters on the server, for statements that send whole columns as arrays."""

import psycopg
from django.db import connection


def server_binding_cursor() -> psycopg.Cursor:
    """A psycopg cursor on Django's connection (so in its transaction) that sends parameters
    apart from the query: Django's own cursor binds them client-side, writing a 15,000-item
    array out as SQL text in Python, which cost more than the statement itself. PostgreSQL only."""
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)
