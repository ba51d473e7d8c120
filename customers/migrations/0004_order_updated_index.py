"""An index on Order.updated_at for the nightly repair, built without locking out writes.

On PostgreSQL the index on a table of millions of orders is built CONCURRENTLY (hence a
non-atomic migration); SQLite has no such thing and builds it plainly.
"""

from django.db import migrations, models

from core.db.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0003_order_refunded_base"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="order",
            index=models.Index(fields=["updated_at"], name="order_updated_idx"),
        ),
    ]
