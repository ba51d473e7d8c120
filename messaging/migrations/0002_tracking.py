"""The providers' tracking webhooks (messaging/tracking.py): a message found by the
provider's id, each provider event recorded once, and the bulk-sender panel's 30 days of
sends. The indexes are built without locking out writes (CONCURRENTLY on PostgreSQL, hence
non-atomic): the message log is one of the largest tables."""

from django.db import migrations, models
from django.db.models import Q

from core.db.migration_operations import AddIndexConcurrentlyOnPostgres, AddUniqueIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("messaging", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="messageevent",
            name="provider_event",
            field=models.CharField(
                blank=True,
                db_default="",
                help_text="The provider's event (anymail's type); empty for the CRM's own.",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="messageevent",
            name="provider_event_key",
            field=models.CharField(blank=True, db_default="", max_length=64),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="message",
            index=models.Index(
                condition=~Q(provider_message_id=""), fields=["provider_message_id"], name="message_provider_id_idx"
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="message",
            index=models.Index(condition=Q(sent_at__isnull=False), fields=["sent_at"], name="message_sent_at_idx"),
        ),
        AddUniqueIndexConcurrentlyOnPostgres(
            model_name="messageevent",
            constraint=models.UniqueConstraint(
                condition=~Q(provider_event_key=""),
                fields=["message", "provider_event_key"],
                name="message_event_provider_uniq",
            ),
        ),
    ]
