"""Migration loyalty 0005 moves the one-per-customer accounts, their ledger, tier changes and
referrals to the customer's home shop group, on SQLite and on PostgreSQL (each run on an empty
database of its own, in a process of its own: see ``migration_0005_check``)."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

CHECK = Path(__file__).with_name("migration_0005_check.py")


def run_check(database_url: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, str(CHECK)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_on_sqlite(tmp_path):
    assert "migration 0005 moved 4 accounts: OK" in run_check(f"sqlite:///{tmp_path / 'migrate.sqlite3'}")


@pytest.mark.postgres
def test_on_postgres():
    server, name = os.environ["DATABASE_URL"].rsplit("/", 1)
    scratch = f"{name.split('?')[0]}_mig0005"
    # CREATE and DROP DATABASE run outside a transaction: a connection of its own, in autocommit.
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
        admin.execute(f'CREATE DATABASE "{scratch}"')
        try:
            assert "migration 0005 moved 4 accounts: OK" in run_check(f"{server}/{scratch}")
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
