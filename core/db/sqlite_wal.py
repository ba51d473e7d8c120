"""The embedded default's SQLite file in WAL mode, set once however many connections open
at the same instant.

WAL mode is kept in the file, so only the first connection to a new file has to switch it.
The switch takes the file's exclusive lock, and SQLite does not wait for that lock as it
waits for a write lock: connections that open together on a file still in rollback mode (a
restored copy, gunicorn's threads on their first requests) fail at once with "database is
locked", which a request answered as a 503. So the mode is read first (no lock), and the
switch is retried for as long as the busy timeout would have waited for a write.
"""

import sqlite3
import time

SWITCH_RETRY_SECONDS = 0.05


def use_wal(sender, connection, **kwargs) -> None:
    """``connection_created``: put a SQLite file in WAL mode (synchronous NORMAL, as WAL allows)."""
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        return
    raw = connection.connection
    deadline = time.monotonic() + float(connection.settings_dict["OPTIONS"].get("timeout", 5))
    while raw.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            raw.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(SWITCH_RETRY_SECONDS)
    raw.execute("PRAGMA synchronous=NORMAL")
