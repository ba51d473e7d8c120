"""PostgreSQL down: the API answers 503 with Retry-After and its JSON error body, the admin a
plain 503 page, never a 500; and once PostgreSQL is back the app recovers by itself.

The test runs a PostgreSQL of its own: ``initdb`` into a temporary directory, started with
``pg_ctl`` on a free port (as the ``postgres`` user when the test runs as root, which initdb
refuses), migrated, and served by gunicorn with the shipped config, once with DEBUG off as
in production and once with it on as ``make demo`` runs. PostgreSQL is stopped in the
middle and started again. The shared server on 5432 is never touched. Marked ``postgres``:
it runs in the PostgreSQL suite; it is skipped where the PostgreSQL server binaries are not
installed.
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))

pytestmark = pytest.mark.postgres


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnPostgres:
    def __init__(self, bin_dir: str, root: Path):
        self.bin = Path(bin_dir)
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/crm"

    def run(self, *command: str) -> None:
        subprocess.run([*self.as_postgres, *command], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if self.as_postgres:
            shutil.chown(self.root, "postgres")
        self.run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start"
        )

    def stop(self) -> None:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def query(self, sql: str) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture
def own_postgres():
    if not BINARIES or not (Path(BINARIES[-1]) / "pg_ctl").exists():
        pytest.skip("the PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        pytest.skip("running as root without runuser: initdb refuses root")
    root = Path(tempfile.mkdtemp(prefix="crm-pg-outage-"))
    server = OwnPostgres(BINARIES[-1], root)
    try:
        server.init()
        server.start()
        with psycopg.connect(server.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE crm")
        yield server
    finally:
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass  # stopped already
        shutil.rmtree(root, ignore_errors=True)


def app_env(server: OwnPostgres, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    return {**env, "DATABASE_URL": server.url, "DJANGO_SETTINGS_MODULE": "config.settings.test", **extra}


def manage(server: OwnPostgres, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=app_env(server), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class Gunicorn:
    def __init__(self, server: OwnPostgres, log: Path, debug: bool):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = app_env(server, DEBUG="true" if debug else "false", GUNICORN_LOG_LEVEL="warning")
        command = [str(GUNICORN), "-c", "config/gunicorn.conf.py", "-b", f"127.0.0.1:{self.port}", "-w", "2"]
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [*command, "--no-control-socket", "config.wsgi"], cwd=ROOT, env=env, stdout=self.log, stderr=self.log
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.base}/api/v1/nothing", timeout=10)
                return
            except requests.RequestException:
                time.sleep(0.2)
        self.close()
        pytest.fail(f"gunicorn did not start: {log.read_text()[-1000:]}")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.log.close()


def order(external_id: str) -> dict:
    return {
        "external_id": external_id,
        "placed_at": "2026-01-02T10:00:00Z",
        "currency": "USD",
        "status": "paid",
        "total": "10.00",
        "customer": {"external_id": "c-1", "email": "ann@example.com"},
        "lines": [{"sku": "SKU-1", "name": "Mug", "quantity": 1, "unit_price": "10.00"}],
    }


def test_while_postgresql_is_down_the_api_says_503_and_it_recovers_by_itself(own_postgres, tmp_path):
    if not GUNICORN.exists():
        pytest.skip(f"gunicorn is not installed at {GUNICORN}")
    manage(own_postgres, "migrate", "--noinput")
    key = manage(own_postgres, "create_shop", "main").rsplit(": ", 1)[1].strip()
    headers = {"Authorization": f"Bearer {key}"}
    servers = {
        "production": Gunicorn(own_postgres, tmp_path / "production.log", debug=False),
        "debug": Gunicorn(own_postgres, tmp_path / "debug.log", debug=True),
    }
    try:
        for name, app in servers.items():
            ok = requests.post(f"{app.base}/api/v1/orders", json=order(f"before-{name}"), headers=headers, timeout=10)
            assert ok.status_code == 201, (name, ok.text)

        own_postgres.stop()
        for name, app in servers.items():
            # Several of each, so that every worker and thread meets the broken connection.
            for n in range(6):
                down = requests.post(
                    f"{app.base}/api/v1/orders", json=order(f"down-{name}-{n}"), headers=headers, timeout=10
                )
                assert down.status_code == 503, (name, down.status_code, down.text[:300])
                assert down.headers["Retry-After"] == "5"
                assert down.headers["Content-Type"] == "application/json"
                assert down.json() == {
                    "detail": "The database is unavailable for the moment; retry after the time in Retry-After.",
                    "errors": {},
                }
                read = requests.get(f"{app.base}/api/v1/customers", headers=headers, timeout=10)
                assert (read.status_code, read.headers["Retry-After"]) == (503, "5"), (name, read.text[:300])
            # A session cookie: the admin must read the session (from the database) to know who it is.
            admin = requests.get(
                f"{app.base}/admin/", cookies={"sessionid": "x" * 32}, timeout=10, allow_redirects=False
            )
            assert admin.status_code == 503 and admin.headers["Retry-After"] == "5", (name, admin.text[:300])
            assert "Service unavailable" in admin.text

        own_postgres.start()
        for name, app in servers.items():
            statuses = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                response = requests.post(
                    f"{app.base}/api/v1/orders", json=order(f"after-{name}"), headers=headers, timeout=10
                )
                statuses.append(response.status_code)
                if response.status_code in (200, 201):
                    break
                time.sleep(0.2)
            assert statuses[-1] == 201 and set(statuses) <= {201, 503}, (name, statuses)
            # Recovered for good: every worker and thread has a working connection again.
            for _ in range(12):
                assert requests.get(f"{app.base}/api/v1/customers", headers=headers, timeout=10).status_code == 200
    finally:
        for app in servers.values():
            app.close()

    stored = {row[0] for row in own_postgres.query("SELECT external_id FROM customers_order")}
    assert stored == {"before-production", "before-debug", "after-production", "after-debug"}
    production_log = (tmp_path / "production.log").read_text()
    # Logged once (per process and 10 s), not once per refused request.
    assert 1 <= production_log.count("Database unavailable: ") <= 2, production_log
    assert "Internal Server Error" not in production_log
