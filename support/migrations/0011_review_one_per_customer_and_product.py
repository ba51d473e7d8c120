"""One review per customer and product. Where a customer reviewed a product more than once,
the newest review is kept (by created_at, then id) and the older ones are removed; follow-up
tickets opened by an older one now point at the one kept."""

from collections import defaultdict

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, F, OuterRef, Subquery


def keep_the_newest_review(apps, schema_editor):
    Review = apps.get_model("support", "Review")
    Ticket = apps.get_model("support", "Ticket")
    twice = (
        Review.objects.values("customer_id", "product_id").annotate(n=Count("id")).filter(n__gt=1).values("customer_id")
    )
    newest = (
        Review.objects.filter(customer_id=OuterRef("customer_id"), product_id=OuterRef("product_id"))
        .order_by("-created_at", "-id")
        .values("id")[:1]
    )
    older = (
        Review.objects.filter(customer_id__in=twice).annotate(kept=Subquery(newest)).exclude(id=F("kept"))
    )
    kept_for = defaultdict(list)
    for old_id, kept_id in older.values_list("id", "kept"):
        kept_for[kept_id].append(old_id)
    for kept_id, old_ids in kept_for.items():
        Ticket.objects.filter(review_id__in=old_ids).update(review_id=kept_id)
    Review.objects.filter(id__in=[i for ids in kept_for.values() for i in ids]).delete()
    if schema_editor.connection.vendor == "postgresql":
        # The foreign keys' deferred checks, now: PostgreSQL alters no table with them pending.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0027_customer_merge"),
        ("support", "0010_inbound_email"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(keep_the_newest_review, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="review",
            constraint=models.UniqueConstraint(fields=("customer", "product"), name="review_customer_product_uniq"),
        ),
    ]
