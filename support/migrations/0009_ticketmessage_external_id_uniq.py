"""A shop's id for a follow-up message is unique in the shop: the unique index, built without
locking out writes to the messages (CONCURRENTLY on PostgreSQL, hence non-atomic)."""

from django.db import migrations, models

from core.db.migration_operations import AddUniqueIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('support', '0008_ticketmessage_external_id'),
    ]

    operations = [
        AddUniqueIndexConcurrentlyOnPostgres(
            model_name='ticketmessage',
            constraint=models.UniqueConstraint(condition=models.Q(('external_id', ''), _negated=True), fields=('shop', 'external_id'), name='message_shop_external_id_uniq'),
        ),
    ]
