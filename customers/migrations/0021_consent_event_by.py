"""Who changed a customer's marketing consent in the admin: a nullable column (no table
rewrite), the sources' labels, and the column's partial index built without locking out writes (CONCURRENTLY on
PostgreSQL, hence non-atomic)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.db.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0020_shop_double_opt_in"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="consentevent",
            name="by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                help_text="The staff member who changed it in the admin.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(  # the sources' labels, as the 360 page shows them; no SQL
            model_name="consentevent",
            name="source",
            field=models.CharField(
                choices=[
                    ("checkout", "checkout"),
                    ("footer_form", "footer form"),
                    ("import", "import"),
                    ("admin", "admin"),
                    ("api", "API"),
                    ("unsubscribe_link", "unsubscribe link"),
                    ("double_opt_in", "double opt-in"),
                ],
                max_length=20,
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="consentevent",
            index=models.Index(condition=models.Q(("by__isnull", False)), fields=["by"], name="consent_by_idx"),
        ),
    ]
