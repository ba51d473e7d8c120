"""The index for a key's customer list filtered by ``updated_since``, built without locking
out writes (CONCURRENTLY on PostgreSQL, hence non-atomic)."""

from django.db import migrations, models

from core.db.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0011_identity_profile"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="customeridentity",
            index=models.Index(fields=["shop", "updated_at"], name="identity_shop_updated_idx"),
        ),
    ]
