"""Who changed what, and when: django-auditlog on customers, tickets, segments, API keys and
the loyalty programme's settings, webhook endpoints, privacy requests and erasures.

Registered here, in the composition layer, so the apps themselves know nothing of it.
auditlog hooks model signals: it records saves and deletes made one row at a time (the
admin, the services' ``save()`` calls), with the signed-in user as actor
(``AuditlogMiddleware``). Set-based writes (the nightly recompute, segment refreshes, the
SLA sweep, bulk imports) send no signals and are not logged: they are the system's own
derivations, traced by their task logs, and logging a million rows each night would
bury the changes people make.
"""

from auditlog.registry import auditlog

from campaigns.models import Segment
from crm.privacy.models import ErasureLog, PrivacyRequest
from crm.webhooks.models import WebhookEndpoint
from customers.models import ApiKey, Customer
from loyalty.models import Programme
from support.models import Ticket


def register() -> None:
    auditlog.register(
        Customer,
        exclude_fields=["updated_at", "phone_digits", *Customer.AGGREGATE_FIELDS],  # the database's own
        m2m_fields={"tags"},
    )
    auditlog.register(Ticket, exclude_fields=["updated_at"], m2m_fields={"tags"})
    auditlog.register(Segment, exclude_fields=["updated_at", "member_count", "refreshed_at", "refresh_seconds"])
    auditlog.register(ApiKey, exclude_fields=["updated_at", "last_used_at"], mask_fields=["key_hash"])
    # Its start decides which orders earn: moving it back credits past orders (loyalty.history).
    auditlog.register(Programme)
    # Where customers' data is sent, and which of it (never the secret, even encrypted).
    # Who took, answered or closed each privacy request, and who erased whom: never the
    # request's copy of the person's contact details.
    auditlog.register(PrivacyRequest, exclude_fields=["email", "phone", "note"])
    auditlog.register(ErasureLog)
    auditlog.register(
        WebhookEndpoint, exclude_fields=["updated_at", "consecutive_failures", "failing_since", "secret_encrypted"]
    )
