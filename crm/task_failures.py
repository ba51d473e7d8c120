"""Record each background task that fails for good, where the staff see it (the admin's
"Task failures"), with its arguments: which customers, segment or range it was for.

Connected to Celery's ``task_failure`` signal, which fires once a task raises for the last
time (a retry is not a failure). If the database is what failed, the record cannot be
written either; it is logged, and the outbox and the nightly repair redo the work.
"""

import json
import logging

from celery.signals import task_failure

logger = logging.getLogger(__name__)


def _json_safe(value):
    return json.loads(json.dumps(value, default=repr))


def record_task_failure(sender=None, task_id=None, exception=None, args=None, kwargs=None, einfo=None, **_):
    from crm.models import TaskFailure

    name = getattr(sender, "name", str(sender))
    logger.error("Task %s (%s) failed for good: %r", name, task_id, exception)
    try:
        TaskFailure.objects.create(
            task=name[:200],
            task_id=str(task_id or "")[:64],
            arguments=_json_safe({"args": list(args or ()), "kwargs": dict(kwargs or {})}),
            error=f"{type(exception).__name__}: {exception}"[:5000],
            traceback=str(einfo or "")[:20000],
        )
    except Exception:
        logger.warning("Could not record the failure of task %s", name, exc_info=True)


def connect() -> None:
    task_failure.connect(record_task_failure, dispatch_uid="crm.task_failures")
