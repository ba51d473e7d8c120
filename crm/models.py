from django.db import models

from customers.models import Shop


class IdempotencyRecord(models.Model):
    """The stored response to a request sent with an ``Idempotency-Key`` header.

    A retry with the same key and body gets this response again instead of running twice.
    Records are kept for a day (``crm.services.IDEMPOTENCY_TTL``), then purged hourly.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "key"], name="idempotency_shop_key_uniq")]
        # The hourly purge deletes by age.
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self):
        return f"{self.shop_id}:{self.key}"
