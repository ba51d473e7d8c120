"""The shipped gunicorn config keeps answering while slow clients trickle their requests in.

gunicorn is started with config/gunicorn.conf.py on a free localhost port, with two workers
(the benchmark's and the issue's number; two slow clients used to hold both sync workers
for 20 s). Two clients then send a POST whose body arrives a byte at a time, and a normal
request must still be answered at once. Every loop is bounded and the server is stopped
at the end; if gunicorn cannot start here the test is skipped, saying why.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
WORKERS = 2
TRICKLE_SECONDS = 8.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str, timeout: float) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def gunicorn(tmp_path):
    if not GUNICORN.exists():
        pytest.skip(f"gunicorn is not installed at {GUNICORN}")
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "GUNICORN_LOG_LEVEL": "warning"}
    command = [str(GUNICORN), "-c", "config/gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "-w", str(WORKERS)]
    command.append("--no-control-socket")  # its default path is per user: parallel runs would share it
    log = tmp_path / "gunicorn.log"
    output = log.open("w")
    proc = subprocess.Popen([*command, "config.wsgi"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):  # up to 20 s to boot
            if proc.poll() is not None:
                pytest.skip(f"gunicorn did not start: {log.read_text()[-500:]}")
            try:
                if http_get(port, "/api/v1/nothing-here", timeout=2).startswith(b"HTTP/1.1 404"):
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            pytest.skip("gunicorn did not answer within 20 s")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        output.close()


def trickle(port: int, stop: threading.Event, started: threading.Barrier) -> None:
    """A form POST whose body comes a byte every 0.2 s. The CSRF check reads the body, so
    whoever serves this request waits on it the whole time."""
    body = b"csrfmiddlewaretoken=" + b"x" * 200
    head = (
        "POST /admin/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Cookie: csrftoken={'a' * 32}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head.encode())
        started.wait(timeout=5)
        deadline = time.monotonic() + TRICKLE_SECONDS
        for byte in body:
            if stop.is_set() or time.monotonic() > deadline:
                break
            s.sendall(bytes([byte]))
            time.sleep(0.2)


def test_two_slow_clients_do_not_stop_a_third_request(gunicorn):
    stop = threading.Event()
    started = threading.Barrier(3)
    slow = [threading.Thread(target=trickle, args=(gunicorn, stop, started), daemon=True) for _ in range(2)]
    for thread in slow:
        thread.start()
    try:
        started.wait(timeout=5)
        time.sleep(1.0)  # both slow requests are in a worker now, reading their bodies

        began = time.monotonic()
        try:
            answer = http_get(gunicorn, "/api/v1/nothing-here", timeout=TRICKLE_SECONDS - 2)
        except TimeoutError:
            pytest.fail(f"no answer within {TRICKLE_SECONDS - 2:.0f} s: the slow clients hold every worker")
        took = time.monotonic() - began

        assert answer.startswith(b"HTTP/1.1 404")
        assert took < 2.0, f"the third request waited {took:.1f} s behind the slow clients"
        assert all(thread.is_alive() for thread in slow)  # they were still trickling meanwhile
    finally:
        stop.set()
        for thread in slow:
            thread.join(timeout=10)
