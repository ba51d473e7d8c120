"""``DailyFeedback`` (NPS and CSAT answers) and ``DailyResponseTimes`` (how long tickets
waited for a first response and for a resolution, and whether within the SLA target)."""

from collections import Counter
from datetime import date

from django.db.models import Count, F, Q

from crm.dashboard.days import day_of, local_day, within
from crm.dashboard.models import DailyFeedback, DailyResponseTimes
from support.models import CsatResponse, NpsResponse, Ticket

PROMOTER, DETRACTOR = 9, 6  # NPS: 9–10 promote, 0–6 detract
SATISFIED = 4  # CSAT: 4–5 of 5


def feedback_refresh(first: date, last: date) -> int:
    """Recompute the days ``first`` … ``last``: a grouped read each of NPS and CSAT answers,
    one delete, one insert."""
    rows: dict[tuple, DailyFeedback] = {}

    def row(day, shop_id) -> DailyFeedback:
        return rows.setdefault((day, shop_id), DailyFeedback(day=day, shop_id=shop_id))

    nps = (
        NpsResponse.objects.filter(**within("created_at", first, last))
        .annotate(day=local_day("created_at"))
        .values("day", "shop_id")
        .annotate(
            n=Count("id"),
            promoters=Count("id", filter=Q(score__gte=PROMOTER)),
            detractors=Count("id", filter=Q(score__lte=DETRACTOR)),
        )
        .order_by()
    )
    for r in nps:
        target = row(r["day"], r["shop_id"])
        target.nps_responses, target.nps_promoters, target.nps_detractors = r["n"], r["promoters"], r["detractors"]
    csat = (
        CsatResponse.objects.filter(**within("created_at", first, last))
        .annotate(day=local_day("created_at"), shop_id=F("ticket__shop_id"))
        .values("day", "shop_id")
        .annotate(n=Count("id"), satisfied=Count("id", filter=Q(rating__gte=SATISFIED)))
        .order_by()
    )
    for r in csat:
        target = row(r["day"], r["shop_id"])
        target.csat_responses, target.csat_satisfied = r["n"], r["satisfied"]
    DailyFeedback.objects.filter(day__range=(first, last)).delete()
    DailyFeedback.objects.bulk_create(rows.values(), batch_size=1000)
    return len(rows)


def response_times_refresh(first: date, last: date) -> int:
    """Recompute the days ``first`` … ``last``: the tickets first answered or solved on them
    (merged tickets, closed by the merge, are left out), counted by whole minutes waited."""
    kinds = (
        (DailyResponseTimes.Kind.FIRST_RESPONSE, "first_responded_at", "first_response_met"),
        (DailyResponseTimes.Kind.RESOLUTION, "solved_at", "resolution_met"),
    )
    counts: Counter = Counter()
    for kind, at, met in kinds:
        tickets = (
            Ticket.objects.filter(merged_into__isnull=True, **within(at, first, last))
            .values_list("shop_id", "created_at", at, met)
            .order_by()
        )
        for shop_id, opened, answered, was_met in tickets.iterator(chunk_size=5000):
            minutes = max(0, int((answered - opened).total_seconds() // 60))
            key = (day_of(answered), shop_id, kind, minutes)
            counts[(*key, "tickets")] += 1
            if was_met is not None:
                counts[(*key, "met" if was_met else "missed")] += 1
    rows: dict[tuple, DailyResponseTimes] = {}
    for (day, shop_id, kind, minutes, field), n in counts.items():
        r = rows.setdefault(
            (day, shop_id, kind, minutes),
            DailyResponseTimes(day=day, shop_id=shop_id, kind=kind, minutes=minutes, tickets=0, met=0, missed=0),
        )
        setattr(r, field, n)
    DailyResponseTimes.objects.filter(day__range=(first, last)).delete()
    DailyResponseTimes.objects.bulk_create(rows.values(), batch_size=1000)
    return len(rows)
