"""The ready-made segments every CRM starts with, editable like any other.

Rules and sentences are written out here as they were when shipped, so this migration does
not depend on today's code. Segments are matched by name: running it on a database that
already has one of these names leaves that segment alone.
"""

from django.db import migrations

SHIPPED = [
    {
        "name": "RFM: Champions",
        "description": "Customers in the RFM group champions (see docs/metrics.md).",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "rfm_segment",
                    "operator": "eq",
                    "value": "champions"
                }
            ]
        },
        "sentence": "customers where RFM segment is champions"
    },
    {
        "name": "RFM: Loyal",
        "description": "Customers in the RFM group loyal (see docs/metrics.md).",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "rfm_segment",
                    "operator": "eq",
                    "value": "loyal"
                }
            ]
        },
        "sentence": "customers where RFM segment is loyal"
    },
    {
        "name": "RFM: Potential loyalist",
        "description": "Customers in the RFM group potential loyalist (see docs/metrics.md).",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "rfm_segment",
                    "operator": "eq",
                    "value": "potential_loyalist"
                }
            ]
        },
        "sentence": "customers where RFM segment is potential loyalist"
    },
    {
        "name": "RFM: New",
        "description": "Customers in the RFM group new (see docs/metrics.md).",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "rfm_segment",
                    "operator": "eq",
                    "value": "new"
                }
            ]
        },
        "sentence": "customers where RFM segment is new"
    },
    {
        "name": "RFM: Promising",
        "description": "Customers in the RFM group promising (see docs/metrics.md).",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "rfm_segment",
                    "operator": "eq",
                    "value": "promising"
                }
            ]
        },
        "sentence": "customers where RFM segment is promising"
    },
    {
        "name": "RFM: Need attention",
        "description": "Customers in the RFM group need attention (see docs/metrics.md).",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "rfm_segment",
                    "operator": "eq",
                    "value": "need_attention"
                }
            ]
        },
        "sentence": "customers where RFM segment is need attention"
    },
    {
        "name": "RFM: About to sleep",
        "description": "Customers in the RFM group about to sleep (see docs/metrics.md).",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "rfm_segment",
                    "operator": "eq",
                    "value": "about_to_sleep"
                }
            ]
        },
        "sentence": "customers where RFM segment is about to sleep"
    },
    {
        "name": "RFM: At risk",
        "description": "Customers in the RFM group at risk (see docs/metrics.md).",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "rfm_segment",
                    "operator": "eq",
                    "value": "at_risk"
                }
            ]
        },
        "sentence": "customers where RFM segment is at risk"
    },
    {
        "name": "RFM: Can't lose",
        "description": "Customers in the RFM group can't lose (see docs/metrics.md).",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "rfm_segment",
                    "operator": "eq",
                    "value": "cant_lose"
                }
            ]
        },
        "sentence": "customers where RFM segment is can't lose"
    },
    {
        "name": "RFM: Hibernating",
        "description": "Customers in the RFM group hibernating (see docs/metrics.md).",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "rfm_segment",
                    "operator": "eq",
                    "value": "hibernating"
                }
            ]
        },
        "sentence": "customers where RFM segment is hibernating"
    },
    {
        "name": "RFM: Lost",
        "description": "Customers in the RFM group lost (see docs/metrics.md).",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "rfm_segment",
                    "operator": "eq",
                    "value": "lost"
                }
            ]
        },
        "sentence": "customers where RFM segment is lost"
    },
    {
        "name": "First-time buyers",
        "description": "Customers with exactly one order.",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "orders_count",
                    "operator": "eq",
                    "value": 1
                }
            ]
        },
        "sentence": "customers where orders is 1"
    },
    {
        "name": "Inactive for 6 months",
        "description": "Buyers whose last order is more than 182 days ago.",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "days_since_last_order",
                    "operator": "gt",
                    "value": 182
                }
            ]
        },
        "sentence": "customers where days since the last order > 182"
    },
    {
        "name": "High CLV (top decile)",
        "description": "The 10 % of customers with the highest predicted 12-month CLV.",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "clv_top_percent",
                    "operator": "lte",
                    "value": 10
                }
            ]
        },
        "sentence": "customers where predicted CLV rank (top %) ≤ 10"
    },
    {
        "name": "At risk",
        "description": "Customers whose lifecycle stage is at risk.",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "stage",
                    "operator": "eq",
                    "value": "at_risk"
                }
            ]
        },
        "sentence": "customers where lifecycle stage is at risk"
    },
    {
        "name": "Birthday this month",
        "description": "Customers whose birthday falls in the current month.",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "birthday_this_month",
                    "operator": "eq",
                    "value": True
                }
            ]
        },
        "sentence": "customers where birthday this month is yes"
    },
    {
        "name": "Abandoned cart in the last 24 hours",
        "description": "Customers with a cart_abandoned event in the last 24 hours.",
        "rule": {
            "match": "all",
            "negate": False,
            "children": [
                {
                    "field": "event",
                    "operator": "eq",
                    "value": "cart_abandoned",
                    "within_hours": 24
                }
            ]
        },
        "sentence": "customers where had event cart_abandoned in the last 24 hours"
    }
]


def create(apps, schema_editor):
    Segment = apps.get_model("campaigns", "Segment")
    SegmentVersion = apps.get_model("campaigns", "SegmentVersion")
    for shipped in SHIPPED:
        segment, created = Segment.objects.get_or_create(
            name=shipped["name"], defaults={"description": shipped["description"], "kind": "dynamic"}
        )
        if created:
            SegmentVersion.objects.create(segment=segment, number=1, rule=shipped["rule"], sentence=shipped["sentence"])


def remove(apps, schema_editor):
    Segment = apps.get_model("campaigns", "Segment")
    Segment.objects.filter(name__in=[s["name"] for s in SHIPPED], versions__number=1).filter(
        versions__created_by=None
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
