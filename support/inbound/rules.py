"""Mail the desk must not answer or add to a ticket: automatic replies, bounces, mailing
lists, our own mail coming back, and loops. Each rule gives the reason recorded on the
``InboundEmail``; the first that applies wins.

Why each one:
- ``Auto-Submitted`` other than ``no`` (RFC 3834), ``X-Autoreply``, ``X-Autorespond``,
  ``Precedence: bulk/junk/list/auto_reply`` and ``X-Auto-Response-Suppress`` (Exchange):
  what out-of-office replies and other robots say of themselves;
- ``List-Id`` or ``List-Unsubscribe``: a mailing list or a newsletter, not a person;
- the null sender (``Return-Path: <>``), ``MAILER-DAEMON`` and ``postmaster``, and a
  delivery status notification (``multipart/report``): bounces;
- a From address the CRM sends as: our own mail come back (a forwarding loop);
- the same sender more than ``SUPPORT_INBOUND_MAX_PER_SENDER`` times in
  ``SUPPORT_INBOUND_WINDOW_MINUTES`` (``loop_reason``): two robots answering each other.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from messaging.models import SenderIdentity
from support.inbound.parsing import ParsedEmail, bare_address
from support.models import InboundEmail

_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_ROBOT_LOCAL_PARTS = {"mailer-daemon", "postmaster"}


def _header(parsed: ParsedEmail, name: str) -> str:
    try:
        value = parsed.headers.get(name)
    except (ValueError, IndexError, TypeError):
        return "?"  # present but unreadable: present is what counts
    return str(value).strip().lower() if value is not None else ""


def _present(parsed: ParsedEmail, name: str) -> bool:
    return name in parsed.headers


def automatic_reason(parsed: ParsedEmail) -> str:
    """Why the email is automatic (not to be answered or added), or "" for a person's mail."""
    auto_submitted = _header(parsed, "auto-submitted")
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto_submitted[:80]}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"):
        if _present(parsed, name):
            return f"{name} header"
    precedence = _header(parsed, "precedence")
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("List-Id", "List-Unsubscribe"):
        if _present(parsed, name):
            return f"mailing list ({name} header)"
    if parsed.content_type == "multipart/report":
        return "delivery status notification (multipart/report)"
    if parsed.return_path == "":
        return "null sender (Return-Path: <>)"
    if parsed.from_email.partition("@")[0] in _ROBOT_LOCAL_PARTS:
        return f"sent by {parsed.from_email}"
    return ""


def own_addresses() -> set[str]:
    """The addresses the CRM sends as or takes replies at, bare (no plus tag): one query."""
    values = {
        settings.DEFAULT_FROM_EMAIL,
        settings.EMAIL_REPLY_TO,
        settings.SUPPORT_REPLY_ADDRESS,
        *(a for pair in SenderIdentity.objects.values_list("from_email", "reply_to") for a in pair),
    }
    return {bare_address(v.strip()) for v in values if v and "@" in v}


def loop_reason(parsed: ParsedEmail, *, own: set[str], now: datetime, exclude_id: int | None = None) -> str:
    """Why the email is a loop: from one of our own addresses, or its sender over the rate."""
    if bare_address(parsed.from_email) in own:
        return f"sent from the CRM's own address {parsed.from_email}"
    limit = settings.SUPPORT_INBOUND_MAX_PER_SENDER
    window = settings.SUPPORT_INBOUND_WINDOW_MINUTES
    since = now - timedelta(minutes=window)
    recent = InboundEmail.objects.filter(from_email=parsed.from_email, received_at__gt=since)
    if exclude_id is not None:  # the email's own row, written first
        recent = recent.exclude(pk=exclude_id)
    if recent[:limit].count() >= limit:
        return f"more than {limit} emails from {parsed.from_email} in {window} minutes"
    return ""
