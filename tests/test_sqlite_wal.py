"""The embedded default's SQLite file is switched to WAL once, however many connections open
on it at the same instant (core.db.sqlite_wal).

Switching a file out of rollback mode needs its exclusive lock, which SQLite does not wait
for: while another connection read the file, the switch in the connection's init command
failed at once with "database is locked", and gunicorn's threads opening together on a
fresh copy answered one request of sixteen with a 503 (CI, tests/test_concurrency_follow_ups.py).
"""

import sqlite3
import threading
import time

import pytest
from django.db.backends.sqlite3.base import DatabaseWrapper


@pytest.fixture(autouse=True)
def own_connections(django_db_blocker):
    """Connections of the test's own to files of its own (connection_created fires for them)."""
    with django_db_blocker.unblock():
        yield


def wrapper_on(path, timeout: float = 10) -> DatabaseWrapper:
    """A Django SQLite connection to ``path`` with the embedded default's options."""
    settings_dict = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {"timeout": timeout, "transaction_mode": "IMMEDIATE"},
        "TIME_ZONE": None,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "TEST": {},
        **dict.fromkeys(["USER", "PASSWORD", "HOST", "PORT"], ""),
    }
    return DatabaseWrapper(settings_dict, alias="wal_check")


def journal_mode(path) -> str:
    with sqlite3.connect(path) as raw:
        return raw.execute("PRAGMA journal_mode").fetchone()[0]


def rollback_mode_file(path) -> None:
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE t (x integer)")
        raw.execute("INSERT INTO t VALUES (1)")
    assert journal_mode(path) == "delete"


def test_a_new_connection_waits_for_a_reader_then_switches_the_file_to_wal(tmp_path):
    path = tmp_path / "crm.sqlite3"
    rollback_mode_file(path)
    reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT * FROM t").fetchall()  # holds the shared lock the switch must wait for
    threading.Timer(0.5, lambda: reader.execute("COMMIT")).start()

    wrapper = wrapper_on(path)
    started = time.monotonic()
    wrapper.ensure_connection()
    waited = time.monotonic() - started
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t")
        assert cursor.fetchone() == (1,)
    wrapper.close()
    reader.close()

    assert journal_mode(path) == "wal"
    assert waited >= 0.4  # it waited for the reader instead of failing


def test_sixteen_connections_opening_at_once_all_open_and_write(tmp_path):
    path = tmp_path / "crm.sqlite3"
    rollback_mode_file(path)
    barrier = threading.Barrier(16)
    failures: list[Exception] = []

    def open_and_write(i: int) -> None:
        wrapper = wrapper_on(path)
        barrier.wait()
        try:
            wrapper.ensure_connection()
            with wrapper.cursor() as cursor:
                cursor.execute("INSERT INTO t VALUES (%s)", [i])
        except Exception as exc:  # noqa: BLE001 - the test reports every failure
            failures.append(exc)
        finally:
            wrapper.close()

    threads = [threading.Thread(target=open_and_write, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert failures == []
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT count(*) FROM t").fetchone() == (17,)
    assert journal_mode(path) == "wal"
