"""Test settings: the same database choice as base (DATABASE_URL or SQLite), fast hashing."""

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
# Sign-in lockout off, so the suite's many logins never trip it; its own tests turn it on.
AXES_ENABLED = False
# Tests never send mail: the outbox, whatever EMAIL_URL or EMAIL_BACKEND the environment
# holds (an SMTP test points MESSAGING_MAILER at its own server).
MESSAGING_MAILER = {"BACKEND": OUTBOX_BACKEND}  # noqa: F405
# The webhook tests' receiver listens on loopback, over http.
WEBHOOK_ALLOW_LOOPBACK = True
WEBHOOK_REQUIRE_HTTPS = False
