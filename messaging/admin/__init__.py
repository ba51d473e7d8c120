"""The email channel in the admin: the message log and the outbox (read-only, each message's
HTML shown in a sandboxed frame), sender identities, suppressions, and the preview page
(a template for a chosen customer, and a test sent to oneself); the mailboxes read over IMAP."""

from messaging.admin import log, mailboxes, senders  # noqa: F401 (they register the models)
