"""Indexes that let segment rules read what they test from the index alone (measured in
docs/benchmarks.md, "Segments"): each new one replaces an index it extends, built
concurrently before the old one is dropped."""

from django.db import migrations, models

from core.db.migration_operations import AddIndexConcurrentlyOnPostgres, RemoveIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0006_clv_percentiles"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="order",
            index=models.Index(
                fields=["customer", "placed_at"],
                include=["total_base", "refunded_base", "status"],
                name="order_customer_window_idx",
            ),
        ),
        RemoveIndexConcurrentlyOnPostgres(model_name="order", name="order_customer_placed_idx"),
        AddIndexConcurrentlyOnPostgres(
            model_name="customer",
            index=models.Index(fields=["country", "id"], name="customer_country_id_idx"),
        ),
        RemoveIndexConcurrentlyOnPostgres(model_name="customer", name="customer_country_idx"),
        AddIndexConcurrentlyOnPostgres(
            model_name="customermetrics",
            index=models.Index(fields=["stage", "customer"], name="metrics_stage_customer_idx"),
        ),
        RemoveIndexConcurrentlyOnPostgres(model_name="customermetrics", name="metrics_stage_idx"),
        AddIndexConcurrentlyOnPostgres(
            model_name="customermetrics",
            index=models.Index(fields=["rfm_segment", "customer"], name="metrics_rfm_customer_idx"),
        ),
        RemoveIndexConcurrentlyOnPostgres(model_name="customermetrics", name="metrics_rfm_segment_idx"),
    ]
