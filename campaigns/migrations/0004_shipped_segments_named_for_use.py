"""The ready-made segments, named and described so a marketer picks the right one: who is in
each, and what it is for. Two "At risk" segments (the lifecycle stage and the RFM group)
used to sit side by side with nothing to tell them apart, and the six-month inactivity
segment is the win-back list, so it says so.

Only a segment still as shipped is touched: its one version is the migration's own (no
author) and its description is the one it shipped with, so a segment a marketer renamed or
described keeps their words. A new name already taken by another segment is left alone.
"""

from django.db import migrations

# old name → (new name, the description it shipped with, the new description)
RENAMED = {
    "RFM: Champions": (
        "RFM: Champions",
        "Customers in the RFM group champions (see docs/metrics.md).",
        "Bought most recently, buy most often and spend the most (RFM recency 5, frequency and "
        "spend 4–5, ranked against every buyer). Use for VIP perks, early access, and asking for "
        "reviews and referrals; they need no discount.",
    ),
    "RFM: Loyal": (
        "RFM: Loyal",
        "Customers in the RFM group loyal (see docs/metrics.md).",
        "Buy often and spend well, and bought fairly recently (RFM recency 3–4, frequency and spend "
        "4–5). Use for loyalty rewards, tier upgrades and upselling.",
    ),
    "RFM: Potential loyalist": (
        "RFM: Potential loyalist",
        "Customers in the RFM group potential loyalist (see docs/metrics.md).",
        "Recent buyers with average frequency and spend (RFM recency 4–5, frequency and spend "
        "2–3). Use for the loyalty programme sign-up and recommendations towards the next order.",
    ),
    "RFM: New": (
        "RFM: New",
        "Customers in the RFM group new (see docs/metrics.md).",
        "Bought very recently, but little so far (RFM recency 5, frequency and spend 1). Use for "
        "the welcome and onboarding series.",
    ),
    "RFM: Promising": (
        "RFM: Promising",
        "Customers in the RFM group promising (see docs/metrics.md).",
        "Bought recently, but little so far (RFM recency 4, frequency and spend 1). Use for a "
        "reason to come back: recommendations or a small incentive.",
    ),
    "RFM: Need attention": (
        "RFM: Need attention",
        "Customers in the RFM group need attention (see docs/metrics.md).",
        "Average on recency, frequency and spend (RFM 3, 3), and starting to slip. Use for "
        "personalised, time-limited offers before they fall asleep.",
    ),
    "RFM: About to sleep": (
        "RFM: About to sleep",
        "Customers in the RFM group about to sleep (see docs/metrics.md).",
        "Below average on recency, and low on frequency and spend (RFM recency 3, frequency and "
        "spend 1–2). Use for a low-cost nudge: popular products, a small discount.",
    ),
    "RFM: At risk": (
        "RFM: At risk",
        "Customers in the RFM group at risk (see docs/metrics.md).",
        "Good customers gone quiet: they bought often or spent well (frequency and spend 3–4) but "
        "not for longer than most buyers (recency 1–2), ranked against every buyer. Use for win-back "
        "offers worth their value. For customers overdue by their own buying rhythm, use "
        "“Lifecycle: at risk”.",
    ),
    "RFM: Can't lose": (
        "RFM: Can't lose",
        "Customers in the RFM group can't lose (see docs/metrics.md).",
        "Your best customers by frequency and spend (5) who have not bought for longer than most "
        "(recency 1–2). Use for personal outreach and the strongest win-back offer.",
    ),
    "RFM: Hibernating": (
        "RFM: Hibernating",
        "Customers in the RFM group hibernating (see docs/metrics.md).",
        "Low value and long gone (RFM recency 2, frequency and spend 1–2). Use for a cheap "
        "reactivation, or leave out of paid campaigns.",
    ),
    "RFM: Lost": (
        "RFM: Lost",
        "Customers in the RFM group lost (see docs/metrics.md).",
        "Lowest on recency, frequency and spend (RFM 1, 1–2). Leave out of paid campaigns, or "
        "try one last reactivation.",
    ),
    "First-time buyers": (
        "First-time buyers",
        "Customers with exactly one order.",
        "Customers with exactly one order (cancelled and refunded orders do not count). Use for "
        "the second-order nudge: the step most customers never take.",
    ),
    "Inactive for 6 months": (
        "Win-back: no order for 6 months",
        "Buyers whose last order is more than 182 days ago.",
        "Customers who bought before and whose last order is more than 182 days ago. Use for "
        "win-back campaigns; to choose the offer, check them against “RFM: Can't lose” and "
        "“RFM: At risk” (worth more) or “RFM: Lost” (worth less).",
    ),
    "High CLV (top decile)": (
        "High CLV (top decile)",
        "The 10 % of customers with the highest predicted 12-month CLV.",
        "The 10 % of buyers with the highest predicted 12-month CLV, at the last fit of the CLV "
        "model (empty until a model is fitted). Use for VIP care and to protect future revenue.",
    ),
    "At risk": (
        "Lifecycle: at risk",
        "Customers whose lifecycle stage is at risk.",
        "Customers overdue by their own rhythm (lifecycle stage at risk): waiting more than twice "
        "their usual gap between orders, a single order more than 60 days ago, P(alive) below "
        "0.5, or a recent detractor. Use for a timely nudge before they lapse (a reminder, a "
        "replenishment, a service follow-up). For valuable customers gone quiet compared with "
        "everyone else, use “RFM: At risk”; the two share only some customers.",
    ),
    "Birthday this month": (
        "Birthday this month",
        "Customers whose birthday falls in the current month.",
        "Customers whose birthday falls in the current month (those who gave one). Use for the "
        "birthday message or gift; the list changes on the 1st of each month.",
    ),
    "Abandoned cart in the last 24 hours": (
        "Abandoned cart in the last 24 hours",
        "Customers with a cart_abandoned event in the last 24 hours.",
        "Customers a shop reported a cart_abandoned event for in the last 24 hours. Use for the "
        "cart reminder; it empties as they buy or the day passes.",
    ),
}


def _as_shipped(Segment, name: str, description: str):
    """The segment of this name if it is still as shipped, else None."""
    segment = Segment.objects.filter(name=name, description=description).first()
    if segment is None:
        return None
    versions = list(segment.versions.values_list("number", "created_by_id"))
    return segment if versions == [(1, None)] else None


def _rename(apps, forwards: bool) -> None:
    Segment = apps.get_model("campaigns", "Segment")
    for old_name, (new_name, old_description, new_description) in RENAMED.items():
        if forwards:
            found = _as_shipped(Segment, old_name, old_description)
            name, description = new_name, new_description
        else:
            found = _as_shipped(Segment, new_name, new_description)
            name, description = old_name, old_description
        if found is None or Segment.objects.filter(name=name).exclude(pk=found.pk).exists():
            continue
        Segment.objects.filter(pk=found.pk).update(name=name, description=description)


WIN_BACK = "Win-back: no order for 6 months"
WIN_BACK_RULE = {
    "match": "all",
    "negate": False,
    "children": [{"field": "days_since_last_order", "operator": "gt", "value": 182}],
}
WIN_BACK_SENTENCE = "customers where days since the last order > 182"


def forwards(apps, schema_editor):
    _rename(apps, forwards=True)
    # A marketer who had changed "Inactive for 6 months" keeps it; the win-back list is then new.
    Segment = apps.get_model("campaigns", "Segment")
    SegmentVersion = apps.get_model("campaigns", "SegmentVersion")
    if not Segment.objects.filter(name=WIN_BACK).exists():
        segment = Segment.objects.create(name=WIN_BACK, description=RENAMED["Inactive for 6 months"][2], kind="dynamic")
        SegmentVersion.objects.create(segment=segment, number=1, rule=WIN_BACK_RULE, sentence=WIN_BACK_SENTENCE)


def backwards(apps, schema_editor):
    _rename(apps, forwards=False)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0003_membership_fewer_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]
