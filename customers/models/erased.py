from django.db import models


class ErasedEmail(models.Model):
    """An erased person's email address, kept only as a keyed hash (``customers.services.
    erased_emails``): an import or a shop's payload that brings the address back cannot
    subscribe it to marketing again. It lives here, not with messaging's suppressions,
    because ingestion (this app, which imports no other) must read it."""

    email_hash = models.CharField(max_length=64, unique=True)
    erased_at = models.DateTimeField()

    def __str__(self):
        return f"erased address {self.email_hash[:12]}…"
