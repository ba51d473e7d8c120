"""A real IMAP server for the tests that read mail (a pytest plugin, named in the root
conftest): Debian's Dovecot, an instance of its own per test (``messaging/tests/dovecot.py``).

Without Dovecot installed the tests that use it are skipped, saying how to install it;
under ``CI=true`` they fail instead, as the browser tests do without Chromium: CI installs
it (``.ci/run``), so a missing server there is a broken set-up, not a reason to pass.
"""

import os

import pytest

from messaging.tests.dovecot import DovecotServer, dovecot_binary

MISSING = "needs Dovecot (apt install dovecot-imapd): the IMAP tests read from a real IMAP server"


def _dovecot_or_skip() -> None:
    if dovecot_binary() is None:
        if os.environ.get("CI"):
            pytest.fail(f"Dovecot is missing under CI=true: {MISSING}", pytrace=False)
        pytest.skip(MISSING)


@pytest.fixture
def imap_server():
    """A running Dovecot on 127.0.0.1 with one user (``USER``/``PASSWORD`` of the module),
    plain IMAP; ``imap_server.url()`` is its ``SUPPORT_IMAP_URL``, ``append()`` delivers."""
    _dovecot_or_skip()
    with DovecotServer() as server:
        yield server


@pytest.fixture
def imap_server_tls():
    """The same with a self-signed certificate: STARTTLS on ``port``, IMAPS on ``tls_port``,
    the certificate to trust at ``cafile``."""
    _dovecot_or_skip()
    with DovecotServer(tls=True) as server:
        yield server
