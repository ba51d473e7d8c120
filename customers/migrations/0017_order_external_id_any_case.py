"""Order numbers searched in any case: an index on ``UPPER(external_id)`` in place of the
one on ``external_id``, which only the search used (ingestion looks orders up by shop and
id, through the unique constraint's index).

Shops send their order numbers as their customers see them, in upper case ("D15594",
"#1001"), but agents type them as they hear them ("d15594"). Built concurrently on
PostgreSQL (the orders table holds millions of rows), hence non-atomic; plainly on SQLite.
"""

from django.db import migrations, models
from django.db.models.functions import Upper

from core.db.migration_operations import AddIndexConcurrentlyOnPostgres, RemoveIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0016_customer_search_indexes"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="order",
            index=models.Index(Upper("external_id"), name="order_external_id_upper_idx"),
        ),
        RemoveIndexConcurrentlyOnPostgres(model_name="order", name="order_external_id_idx"),
    ]
