"""What every benchmark script does before it imports the app: the project on ``sys.path``,
the settings and services in the environment, optionally a fresh database, then
``django.setup()``. Call ``django_setup`` at the top of a script, before the app's imports."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fresh_database(url: str) -> None:
    """Drop and create the PostgreSQL database ``url`` names (a benchmark's own)."""
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_setup(
    *,
    database_url: str | None = None,
    redis_url: str | None = None,
    fresh: bool = False,
    settings: str = "config.settings.local",
) -> None:
    """Point the app at ``database_url`` (else the environment's) and ``redis_url`` (None
    leaves the environment's; "" runs tasks in-process), with ``DEBUG`` off unless set."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings)
    os.environ.setdefault("DEBUG", "false")
    if database_url:
        os.environ["DATABASE_URL"] = database_url
        if fresh:
            fresh_database(database_url)
    if redis_url == "":
        os.environ.pop("REDIS_URL", None)
    elif redis_url is not None:
        os.environ["REDIS_URL"] = redis_url

    import django

    django.setup()
