"""Celery workers for a benchmark phase: started as the deployment would run them, given
time to import Django and connect, and stopped afterwards."""

import os
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CELERY = str(ROOT / ".venv/bin/celery")


@contextmanager
def celery_workers(concurrency: int):
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    subprocess.run([CELERY, "-A", "config", "purge", "-f"], env=env, capture_output=True)
    worker = subprocess.Popen(
        [CELERY, "-A", "config", "worker", "-c", str(concurrency), "--loglevel", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(8)  # the worker imports Django and connects
        yield
    finally:
        worker.terminate()
        worker.wait(timeout=60)
