"""Outage benchmark (`make bench-faults`): the API, a worker and beat under load while a
service fails, then a check that nothing was lost and that everything converged.

Each scenario runs on loopback, on servers of its own (never the shared ones), bounded in
time:

- ``bulk``: the bulk rate of ``make bench`` (two clients sending 1,000 orders a request)
  with a worker and beat: orders per second acknowledged, the figures' freshness under it,
  and the backlog of follow-up work when it stops;
- ``drain``: what one worker process can follow: the bulk load of ``make bench`` for
  ``LOAD_SECONDS`` with no worker running, then a worker started on the backlog; orders
  (and customers) per second from its first finished batch until the outbox is empty;
- ``load``: the sustained mixed load (client threads of single and bulk POSTs) with one
  worker; how fresh the figures stay (a probe order every second: the time until its
  customer's stage and CLV are computed), and the backlog when the load stops.
- ``redis``: Redis (the broker and cache, on its own port) stopped for ``OUTAGE`` seconds
  in the middle of the load, then started again.
- ``worker``: the worker killed with SIGKILL in the middle of a rebuild of every customer
  (``recompute_customers --from-orders --async``), then a new one started.
- ``postgres``: a throwaway PostgreSQL cluster, made by this script with initdb, restarted
  (down for ``OUTAGE`` seconds) in the middle of the load.
- ``campaign``: a campaign to ``CAMPAIGN_RECIPIENTS`` customers sent by a worker and beat,
  the worker killed with SIGKILL in the middle of the send pass, then a new one started:
  every customer must end with exactly one ``Send`` and one message, every message sent,
  and the campaign marked sent.

After each: acknowledged, stored, lost (acknowledged, not stored), duplicated (points
earned twice for one order), 500s (a defect) and 503s (the answer while PostgreSQL is
down, with Retry-After), and the time from the service's return until
the database agrees with its orders: every customer's figures as a rebuild from orders
gives them, every buyer with a stage, every paid order with its points, the outbox empty.

Settings (environment): FAULTS (comma-separated scenarios, default all), LOAD_SECONDS
(default 60), OUTAGE (default 20), CLIENT_THREADS (default 4), FAULTS_PG_BIN (where
initdb and pg_ctl are; found under /usr/lib/postgresql otherwise).
"""

import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv/bin/python")
BIN = ROOT / ".venv/bin"
SHARED_PG = os.environ.get("FAULTS_DATABASE_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
LOAD_SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))
OUTAGE = float(os.environ.get("OUTAGE", "20"))
CLIENT_THREADS = int(os.environ.get("CLIENT_THREADS", "4"))
CONVERGE_LIMIT = 300.0  # the target: within 5 minutes of the service returning
VISIBILITY = 60  # seconds; shorter than the shipped 360 s so the worker scenario stays short
REDIS_PORT, APP_PORT, PG_PORT = 6397, 8767, 5497
CHUNK = 5000  # rows a drain claims at once (core.chunks.CHUNK_SIZE)
CUSTOMERS = 3000
CAMPAIGN_RECIPIENTS = int(os.environ.get("CAMPAIGN_RECIPIENTS", "12000"))
WORKER_PROCESSES = os.environ.get("WORKER_PROCESSES", "1")
OUT = ROOT / "bench/out"
OUT.mkdir(exist_ok=True)


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


# ------------------------------------------------------------------------------ servers


class Redis:
    def __init__(self, port: int):
        self.port = port
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(lambda: subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).returncode == 0)

    def stop(self) -> None:
        if self.proc:
            self.proc.kill()  # an outage, not a clean shutdown
            self.proc.wait()
            self.proc = None


class Postgres:
    """A throwaway cluster of this script's own, on its own port and directory."""

    def __init__(self, port: int):
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="crm-faults-pg-"))
        found = os.environ.get("FAULTS_PG_BIN") or (sorted(glob.glob("/usr/lib/postgresql/*/bin")) or [""])[-1]
        self.bin = Path(found)
        # initdb refuses root: run the server as the postgres user then.
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.dir, "postgres")
        self.run(self.bin / "initdb", "-D", self.dir / "data", "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def run(self, *command, check: bool = True) -> None:
        subprocess.run([*self.as_postgres, *map(str, command)], check=check, capture_output=True)

    @property
    def admin_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c fsync=off -c listen_addresses=127.0.0.1"
        self.run(self.bin / "pg_ctl", "-D", self.dir / "data", "-o", options, "-l", self.dir / "log", "-w", "start")

    def stop(self) -> None:
        self.run(self.bin / "pg_ctl", "-D", self.dir / "data", "-m", "immediate", "-w", "stop", check=False)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _wait(predicate, timeout: float = 30.0, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(Exception):
            if predicate():
                return True
        time.sleep(every)
    return False


class Stack:
    """The app as deployed: gunicorn (the shipped config), one worker and beat."""

    def __init__(self, db_url: str, redis_url: str, **extra_env: str):
        self.db_url, self.redis_url, self.extra_env = db_url, redis_url, extra_env
        self.procs: dict[str, subprocess.Popen] = {}
        self.log = (OUT / "faults.log").open("a")

    def env(self) -> dict:
        return {
            **os.environ,
            "DATABASE_URL": self.db_url,
            "REDIS_URL": self.redis_url,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY),
            **self.extra_env,
        }

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [PY, "manage.py", *args], cwd=ROOT, env=self.env(), check=True, capture_output=True, text=True
        ).stdout

    def prepare(self, admin_url: str) -> str:
        """A fresh database, migrated, with a shop, its key and a points programme."""
        name = self.db_url.rsplit("/", 1)[1]
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        self.manage("migrate", "-v0")
        key = self.manage("create_shop", "faults").split("store it now): ")[1].strip()
        self.manage(
            "shell",
            "-c",
            "from datetime import timedelta; from decimal import Decimal; from django.utils import timezone;"
            "from loyalty.models import Programme, EarningRule, RuleKind;"
            "Programme.objects.update_or_create(pk=1, defaults=dict(is_active=True,"
            " starts_at=timezone.now() - timedelta(days=400), pending_days=14));"
            "EarningRule.objects.create(name='Points per dollar', kind=RuleKind.SPEND, points_per_unit=Decimal(1))",
        )
        return key

    def start(self, *names: str) -> None:
        commands = {
            "web": [
                str(BIN / "gunicorn"),
                "config.wsgi",
                "-c",
                "config/gunicorn.conf.py",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{APP_PORT}",
                "--log-level",
                "warning",
            ],
            "worker": [str(BIN / "celery"), "-A", "config", "worker", "-c", WORKER_PROCESSES, "--loglevel", "WARNING"],
            "beat": [
                str(BIN / "celery"),
                "-A",
                "config",
                "beat",
                "--loglevel",
                "WARNING",
                "-s",
                str(OUT / f"beat-schedule-{uuid.uuid4().hex[:6]}"),
            ],
        }
        for name in names:
            self.procs[name] = subprocess.Popen(
                commands[name], cwd=ROOT, env=self.env(), stdout=self.log, stderr=subprocess.STDOUT
            )
        if "web" in names and not _wait(lambda: requests.get(f"{BASE}/api/v1/customers", timeout=2).status_code):
            raise SystemExit("gunicorn did not start")

    def kill(self, name: str) -> None:
        """SIGKILL the process and its pool's children, as the kernel's OOM killer would."""
        proc = self.procs.pop(name)
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        for pid in [proc.pid, *map(int, children)]:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            proc.terminate()
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
            if proc.poll() is None:
                proc.kill()


BASE = f"http://127.0.0.1:{APP_PORT}"


# --------------------------------------------------------------------------------- load


def an_order(rng: random.Random, external_id: str, customer: int, when: datetime) -> dict:
    cents = rng.randint(500, 20_000)
    total = f"{cents // 100}.{cents % 100:02d}"
    return {
        "external_id": external_id,
        "placed_at": when.isoformat(),
        "currency": "USD",
        "status": "paid",
        "total": total,
        "customer": {"external_id": f"c{customer}", "email": f"shopper{customer}@example.com"},
        "lines": [{"sku": f"SKU-{rng.randrange(50)}", "name": "Item", "quantity": 1, "unit_price": total}],
    }


class Load:
    """Client threads until stopped: ``mixed``, 4 of 5 requests a single order and 1 a bulk
    of 100, over 3,000 customers; ``bulk``, bulks of 1,000 over 40,000 customers (as
    ``make bench``). Records every acknowledged order and every status."""

    def __init__(self, key: str, threads: int = CLIENT_THREADS, mode: str = "mixed"):
        self.key, self.threads, self.mode = key, threads, mode
        self.acked: set[str] = set()
        self.item_errors = 0
        self.statuses: dict[str, int] = {}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.workers: list[threading.Thread] = []

    def _count(self, status: str) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def _client(self, n: int) -> None:
        rng = random.Random(n)
        session = requests.Session()
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        when = datetime.now(UTC) - timedelta(days=30)  # past the return window: points are available
        i = 0
        while not self.stop.is_set():
            i += 1
            bulk = self.mode == "bulk" or rng.random() < 0.2
            size, pool = (1000, 40_000) if self.mode == "bulk" else (100 if bulk else 1, CUSTOMERS)
            ids = [f"t{n}-{i}-{j}" for j in range(size)]
            orders = [an_order(rng, x, rng.randrange(pool), when) for x in ids]
            url, body = (
                (f"{BASE}/api/v1/orders/bulk", {"orders": orders}) if bulk else (f"{BASE}/api/v1/orders", orders[0])
            )
            try:
                response = session.post(url, data=orjson.dumps(body), headers=headers, timeout=60)
            except requests.RequestException as exc:
                self._count(type(exc).__name__)
                time.sleep(0.2)
                continue
            self._count(str(response.status_code))
            if response.status_code in (200, 201):
                body = response.json()
                done = [r["external_id"] for r in body["results"] if r["status"] != "error"] if bulk else ids
                with self.lock:
                    self.acked.update(done)
                    self.item_errors += len(ids) - len(done)
            elif response.status_code >= 500 or response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After", "0.2")))

    def start(self) -> None:
        self.workers = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(self.threads)]
        for w in self.workers:
            w.start()

    def finish(self) -> None:
        self.stop.set()
        for w in self.workers:
            w.join(timeout=60)


class Prober:
    """One order a second, each for a new customer, and a poller that notes when each one's
    stage is computed: the seconds from the order's acknowledgement to its figures."""

    def __init__(self, key: str, db_url: str):
        self.key, self.db_url = key, db_url
        self.acked: dict[int, float] = {}
        self.lags: dict[int, float] = {}
        self.lock = threading.Lock()

    def probe(self, seconds: float) -> list[float]:
        """Probe for ``seconds``, then wait (up to the convergence limit) for every probe's
        figures; returns their lags, sorted."""
        stop = threading.Event()
        poller = threading.Thread(target=self._poll, args=(stop,), daemon=True)
        poller.start()
        rng = random.Random(99)
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        sent, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            n = uuid.uuid4().hex[:10]
            body = an_order(rng, f"probe-{n}", 0, datetime.now(UTC) - timedelta(days=1))
            body["customer"] = {"external_id": f"probe-{n}", "email": f"probe-{n}@example.com"}
            with suppress(requests.RequestException):
                response = requests.post(f"{BASE}/api/v1/orders", data=orjson.dumps(body), headers=headers, timeout=30)
                if response.status_code == 201:
                    with self.lock:
                        self.acked[response.json()["customer_id"]] = time.monotonic()
                    sent.append(response.json()["customer_id"])
            time.sleep(1.0)
        _wait(lambda: all(c in self.lags for c in sent), timeout=CONVERGE_LIMIT, every=0.2)
        stop.set()
        poller.join()
        return sorted(self.lags[c] for c in sent if c in self.lags)

    def _poll(self, stop: threading.Event) -> None:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            while not stop.is_set():
                with self.lock:
                    waiting = [c for c in self.acked if c not in self.lags]
                if waiting:
                    # The API names a customer by its shop group's identity id (crm/api/customer_ids.py).
                    done = conn.execute(
                        "SELECT i.id FROM customers_customeridentity i "
                        "JOIN customers_customermetrics m ON m.customer_id = i.customer_id "
                        "WHERE i.id = ANY(%s) AND m.purchase_days > 0",
                        [waiting],
                    ).fetchall()
                    now = time.monotonic()
                    with self.lock:
                        for (c,) in done:
                            self.lags[c] = now - self.acked[c]
                time.sleep(0.05)


# -------------------------------------------------------------------------------- checks


CHECKS = {
    "stale_figures": """
        SELECT count(*) FROM customers_customer c LEFT JOIN (
            SELECT customer_id, count(*) AS n, sum(greatest(total_base - refunded_base, 0)) AS net
            FROM customers_order WHERE status NOT IN ('cancelled', 'refunded') GROUP BY customer_id
        ) o ON o.customer_id = c.id
        WHERE c.orders_count <> coalesce(o.n, 0) OR c.net_revenue <> coalesce(o.net, 0)""",
    "buyers_without_stage": """
        SELECT count(*) FROM customers_customer c WHERE c.orders_count > 0 AND NOT EXISTS (
            SELECT 1 FROM customers_customermetrics m WHERE m.customer_id = c.id AND m.purchase_days > 0)""",
    "paid_orders_without_points": """
        SELECT count(*) FROM customers_order o WHERE o.status = 'paid' AND NOT EXISTS (
            SELECT 1 FROM loyalty_pointsentry p WHERE p.order_id = o.id AND p.kind = 'earn')""",
    "points_earned_twice": """
        SELECT count(*) FROM (SELECT order_id, rule_id FROM loyalty_pointsentry
            WHERE kind = 'earn' AND order_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) d""",
    "outbox": "SELECT count(*) FROM customers_pendingupdate",
}


def check(db_url: str) -> dict[str, int]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in CHECKS.items()}


def converge(db_url: str, since: float) -> tuple[float | None, dict]:
    """Seconds after ``since`` until every check is 0 (None if not within the limit)."""
    state: dict = {}

    def clean() -> bool:
        nonlocal state
        state = check(db_url)
        return not any(state.values())

    ok = _wait(clean, timeout=CONVERGE_LIMIT, every=1.0)
    return (time.monotonic() - since if ok else None), state


def stored_ids(db_url: str) -> set[str]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT external_id FROM customers_order WHERE external_id LIKE 't%%'")}


def report(name: str, load: Load | None, db_url: str, converged: float | None, state: dict, **extra) -> dict:
    stored = stored_ids(db_url)
    acked = load.acked if load else set()
    result = {
        "scenario": name,
        "acknowledged": len(acked),
        "stored": len(stored),
        "lost": len(acked - stored),
        "stored_unacknowledged": len(stored - acked),
        "statuses": dict(sorted(load.statuses.items())) if load else {},
        "bulk_items_refused": load.item_errors if load else 0,
        # 503 with Retry-After is the answer while PostgreSQL is down; a 500 is a defect.
        "500": sum(v for k, v in (load.statuses.items() if load else ()) if k.startswith("5") and k != "503"),
        "503": (load.statuses.get("503", 0) if load else 0),
        "converged_seconds": None if converged is None else round(converged, 1),
        "final_checks": state,
        **extra,
    }
    log(json.dumps(result))
    return result


# ----------------------------------------------------------------------------- scenarios


@contextmanager
def stack_on(db_url: str, admin_url: str, redis: Redis, *names: str, **extra_env: str):
    stack = Stack(db_url, f"redis://127.0.0.1:{redis.port}/0", **extra_env)
    key = stack.prepare(admin_url)
    stack.start(*names)
    try:
        yield stack, key
    finally:
        stack.stop_all()


def scenario_load(redis: Redis, mode: str = "mixed") -> dict:
    db = SHARED_PG.rsplit("/", 1)[0] + f"/crm_faults_{mode}"
    with stack_on(db, SHARED_PG, redis, "web", "worker", "beat") as (stack, key):
        time.sleep(10)  # the worker imports Django and connects
        at_rest = Prober(key, db).probe(10)
        load = Load(key, threads=2 if mode == "bulk" else CLIENT_THREADS, mode=mode)
        load.start()
        started = time.monotonic()
        prober = Prober(key, db)
        busy = threading.Thread(target=lambda: setattr(prober, "result", prober.probe(LOAD_SECONDS)))
        busy.start()
        time.sleep(LOAD_SECONDS)
        load.finish()
        elapsed = time.monotonic() - started
        backlog = check(db)["outbox"]
        busy.join()
        under_load = prober.result
        converged, state = converge(db, time.monotonic())
        return report(
            f"sustained {mode} load",
            load,
            db,
            converged,
            state,
            orders_per_second=round(len(load.acked) / elapsed),
            outbox_when_load_stopped=backlog,
            fresh_at_rest_p50_s=_q(at_rest, 0.5),
            fresh_at_rest_max_s=_q(at_rest, 1.0),
            fresh_under_load_p50_s=_q(under_load, 0.5),
            fresh_under_load_p95_s=_q(under_load, 0.95),
            probes=f"{len(under_load)} under load, {len(at_rest)} at rest",
        )


def scenario_drain(redis: Redis) -> dict:
    db = SHARED_PG.rsplit("/", 1)[0] + "/crm_faults_drain"
    with stack_on(db, SHARED_PG, redis, "web") as (stack, key):
        load = Load(key, threads=2, mode="bulk")
        load.start()
        started = time.monotonic()
        time.sleep(LOAD_SECONDS)
        load.finish()
        api_rate = len(load.acked) / (time.monotonic() - started)
        with psycopg.connect(db, autocommit=True) as conn:
            outbox = "SELECT count(*) FROM customers_pendingupdate"
            backlog = conn.execute(outbox).fetchone()[0]
            customers = conn.execute("SELECT count(DISTINCT customer_id) FROM customers_pendingupdate").fetchone()[0]
            stack.start("worker")
            # Timed from the first batch done (the worker has imported Django and connected)
            # until the outbox is empty.
            _wait(lambda: conn.execute(outbox).fetchone()[0] < backlog, timeout=120, every=0.05)
            first = time.monotonic()
            _wait(lambda: conn.execute(outbox).fetchone()[0] == 0, timeout=CONVERGE_LIMIT, every=0.05)
            seconds = time.monotonic() - first
        converged, state = converge(db, time.monotonic())
        # The first batch is not in ``seconds``: count the backlog without it.
        done = max(backlog - CHUNK, 1)
        orders = len(load.acked) * done / backlog
        return report(
            "worker on a backlog of the bulk load",
            load,
            db,
            converged,
            state,
            api_orders_per_second_without_worker=round(api_rate),
            outbox_rows=backlog,
            outbox_customers=customers,
            drain_seconds=round(seconds, 1),
            worker_orders_per_second=round(orders / seconds),
            worker_customers_per_second=round(customers * done / backlog / seconds),
        )


def _q(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(q * len(values)))], 2) if q < 1 else round(values[-1], 2)


def _outage(name: str, db: str, admin_url: str, redis: Redis, service) -> dict:
    """The mixed load for ``LOAD_SECONDS``, with ``service`` (Redis or PostgreSQL) stopped for
    ``OUTAGE`` seconds after the first third; convergence is timed from its return."""
    with stack_on(db, admin_url, redis, "web", "worker", "beat") as (stack, key):
        load = Load(key)
        load.start()
        time.sleep(LOAD_SECONDS / 3)
        log(f"{name}: stopping")
        service.stop()
        time.sleep(OUTAGE)
        during = dict(load.statuses)
        service.start()
        back = time.monotonic()
        log(f"{name}: back")
        time.sleep(LOAD_SECONDS / 3)
        load.finish()
        converged, state = converge(db, back)
        return report(name, load, db, converged, state, statuses_by_end_of_outage=during)


def scenario_redis(redis: Redis) -> dict:
    return _outage("Redis stopped", SHARED_PG.rsplit("/", 1)[0] + "/crm_faults_redis", SHARED_PG, redis, redis)


def scenario_worker(redis: Redis) -> dict:
    db = SHARED_PG.rsplit("/", 1)[0] + "/crm_faults_worker"
    with stack_on(db, SHARED_PG, redis, "web", "worker") as (stack, key):
        load = Load(key, threads=2, mode="bulk")  # tens of thousands of customers: several chunks
        load.start()
        time.sleep(20)
        load.finish()
        converge(db, time.monotonic())
        with psycopg.connect(db, autocommit=True) as conn:  # forget every figure, then rebuild them
            conn.execute("UPDATE customers_customer SET orders_count = 0, net_revenue = 0")
        stack.manage("recompute_customers", "--from-orders", "--async")
        time.sleep(0.3)  # the worker is in its first chunk
        log("killing the worker")
        stack.kill("worker")
        stack.start("worker")
        killed = time.monotonic()
        converged, state = converge(db, killed)
        return report("worker killed during a rebuild", load, db, converged, state, visibility_timeout_s=VISIBILITY)


def scenario_postgres(redis: Redis) -> dict:
    pg = Postgres(PG_PORT)
    pg.start()
    try:
        db = f"postgres://postgres@127.0.0.1:{PG_PORT}/crm_faults"
        return _outage("PostgreSQL restarted", db, pg.admin_url, redis, pg)
    finally:
        pg.remove()


CAMPAIGN_SEED = """
from campaigns.campaigns.actions import campaign_send_now
from campaigns.models import Campaign, Email, Segment, SegmentMembership, Variant
from customers.models import Customer, CustomerIdentity, Shop
from django.utils import timezone
from messaging.models import SenderIdentity

shop = Shop.objects.get(slug="faults")
SenderIdentity.objects.create(shop=shop, from_name="Faults", from_email="hello@faults.example")
people = Customer.objects.bulk_create(
    Customer(email=f"c{i}@example.com", email_normalized=f"c{i}@example.com", first_name="Ann") for i in range(%d)
)
CustomerIdentity.objects.bulk_create(
    CustomerIdentity(shop=shop, customer=c, external_id=f"x{c.pk}", email=c.email, marketing_consent=True)
    for c in people
)
everyone = Segment.objects.create(name="Everyone", kind=Segment.Kind.STATIC)
SegmentMembership.objects.bulk_create(
    SegmentMembership(segment=everyone, customer=c, entered_at=timezone.now()) for c in people
)
email = Email.objects.create(shop=shop, name="Fault test")
for label in "AB":
    body = "<p>Hi {{ customer.first_name }}</p>"
    Variant.objects.create(email=email, label=label, subject=label + ": hello", body=body)
campaign = Campaign.objects.create(shop=shop, name="Fault test", email=email)
campaign.segments.set([everyone])
campaign_send_now(campaign=campaign, user=None)
"""

CAMPAIGN_CHECKS = {
    "customers_without_a_send": "SELECT count(*) FROM customers_customer c WHERE NOT EXISTS "
    "(SELECT 1 FROM campaigns_send s WHERE s.customer_id = c.id)",
    "sends_twice": "SELECT count(*) FROM (SELECT customer_id FROM campaigns_send GROUP BY customer_id "
    "HAVING count(*) > 1) d",
    "messages_twice": "SELECT count(*) FROM (SELECT customer_id FROM messaging_message WHERE kind = 'marketing' "
    "GROUP BY customer_id HAVING count(*) > 1) d",
    "sends_without_a_message": "SELECT count(*) FROM campaigns_send WHERE message_id IS NULL",
    "messages_not_sent": "SELECT count(*) FROM messaging_message WHERE status IN ('queued', 'sending')",
    "campaign_not_sent": "SELECT count(*) FROM campaigns_campaign WHERE status <> 'sent'",
}


def scenario_campaign(redis: Redis) -> dict:
    db = SHARED_PG.rsplit("/", 1)[0] + "/crm_faults_campaign"
    # The outbox backend (no SMTP configured) at 1,000 messages a second instead of the
    # shipped 50: the sending rate is not what this scenario measures.
    with stack_on(db, SHARED_PG, redis, EMAIL_RATE_PER_SECOND="1000") as (stack, _key):
        stack.manage("shell", "-c", CAMPAIGN_SEED % CAMPAIGN_RECIPIENTS)
        stack.start("worker", "beat")
        with psycopg.connect(db, autocommit=True) as conn:

            def sends() -> int:
                return conn.execute("SELECT count(*) FROM campaigns_send").fetchone()[0]

            started = time.monotonic()
            _wait(lambda: sends() >= CAMPAIGN_RECIPIENTS // 4, timeout=300, every=0.05)
            at_kill = sends()
            log(f"killing the worker at {at_kill:,} sends")
            stack.kill("worker")
            stack.start("worker")
            killed = time.monotonic()
            state: dict = {}

            def checked(*names: str) -> bool:
                nonlocal state
                state = {name: conn.execute(sql).fetchone()[0] for name, sql in CAMPAIGN_CHECKS.items()}
                return not any(state[n] for n in names or state)

            # The campaign first (a Send and a message for everyone, once), then the outbox.
            sent_ok = _wait(
                lambda: checked("customers_without_a_send", "sends_twice", "campaign_not_sent"),
                timeout=CONVERGE_LIMIT,
                every=1.0,
            )
            campaign_done = time.monotonic() - killed if sent_ok else None
            ok = sent_ok and _wait(checked, timeout=CONVERGE_LIMIT, every=1.0)
            converged = time.monotonic() - killed if ok else None
            total = sends()
        result = {
            "scenario": "worker killed during a campaign send",
            "acknowledged": CAMPAIGN_RECIPIENTS,
            "stored": total,
            "lost": state.get("customers_without_a_send", 0),
            "statuses": {},
            "500": 0,
            "503": 0,
            "converged_seconds": None if converged is None else round(converged, 1),
            "final_checks": state,
            "duplicated": state.get("sends_twice", 0) + state.get("messages_twice", 0),
            "sends_when_killed": at_kill,
            "campaign_complete_seconds": None if campaign_done is None else round(campaign_done, 1),
            "seconds_to_the_kill": round(killed - started, 1),
        }
        log(json.dumps(result))
        return result


SCENARIOS = {
    "load": scenario_load,
    "bulk": lambda redis: scenario_load(redis, "bulk"),
    "drain": scenario_drain,
    "redis": scenario_redis,
    "worker": scenario_worker,
    "postgres": scenario_postgres,
    "campaign": scenario_campaign,
}


def main() -> None:
    chosen = [s for s in os.environ.get("FAULTS", ",".join(SCENARIOS)).split(",") if s]
    results = []
    for name in chosen:
        redis = Redis(REDIS_PORT)
        redis.start()
        try:
            log(f"scenario {name}")
            results.append(SCENARIOS[name](redis))
        finally:
            redis.stop()
    (OUT / "faults.json").write_text(json.dumps(results, indent=2))
    print("\n| scenario | acknowledged | stored | lost | duplicated | 500 | 503 | converged |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        seconds = "not within 5 min" if r["converged_seconds"] is None else f"{r['converged_seconds']} s"
        print(
            f"| {r['scenario']} | {r['acknowledged']:,} | {r['stored']:,} | {r['lost']} | "
            f"{r.get('duplicated', r['final_checks'].get('points_earned_twice', '?'))} | {r['500']} | {r['503']} | "
            f"{seconds} |"
        )
    if any(r["lost"] or r["500"] or r["converged_seconds"] is None for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
