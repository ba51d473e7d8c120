"""Work that follows a commit, started soon after it: one shape for the outbox's drain
(``crm.follow_up``) and the email sender (``messaging.dispatch``).

A ``Kick`` runs after a transaction that left work in the database commits:
- with a broker, it queues one task by name unless one is queued already (a flag in the
  cache), so ten thousand writes cost one task, not ten thousand; the task clears the flag
  when it starts (``started``), and one that finds a full batch queues another
  (``queue``), so a backlog spreads over the workers;
- on the embedded default (no broker), it runs the work in-process, one thread at a time;
  a kick that arrives while another thread works makes that one go round again, so work
  committed as it finished is not left behind.

It never raises: the work is committed, and beat (or the in-process scheduler) runs the
same task every 30 s as the safety net, so nothing is lost if a kick is (Redis down).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from celery import current_app
from django.core.cache import cache


class Kick:
    def __init__(self, *, flag: str, task: str, seconds: int, run: Callable[[], object], log: logging.Logger):
        self.flag = flag  # the cache key that says a task is queued
        self.task = task  # the task's name (sent by name: the tasks module imports the caller)
        self.seconds = seconds  # one task works this long at most; the flag lives as long
        self.run = run  # the work, in-process
        self.log = log
        self._lock = threading.Lock()
        self._requested = threading.Event()

    def __call__(self) -> None:
        try:
            if current_app.conf.task_always_eager:  # no broker: the embedded default, and tests
                self._run_in_process()
            else:
                self.queue()
        except Exception:
            self.log.warning("%s is left to its periodic run", self.task, exc_info=True)

    def queue(self) -> None:
        """Queue one task unless one is queued already."""
        if cache.add(self.flag, 1, timeout=self.seconds):
            try:
                current_app.send_task(self.task)
            except Exception:
                cache.delete(self.flag)
                raise

    def started(self) -> None:
        """A task began: work committed from now on queues one after it."""
        cache.delete(self.flag)

    def _run_in_process(self) -> None:
        self._requested.set()
        while self._requested.is_set() and self._lock.acquire(blocking=False):
            try:
                self._requested.clear()
                self.run()
            finally:
                self._lock.release()
