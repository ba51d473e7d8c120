"""The Celery application.

With ``REDIS_URL`` set, tasks go to Redis and a worker runs them (``make worker``).
Without it, settings turn on eager mode and tasks run in-process, so the demo needs no
servers.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
