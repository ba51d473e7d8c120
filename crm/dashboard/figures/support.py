"""NPS, CSAT and SLA compliance, from ``DailyFeedback`` and ``DailyResponseTimes``."""

from dataclasses import dataclass

from django.db.models import Sum

from crm.dashboard import links
from crm.dashboard.figures.base import MIN_ANSWERS, Figure, Period, percent, too_few
from crm.dashboard.models import DailyFeedback, DailyResponseTimes

Kind = DailyResponseTimes.Kind
BY_SHOP = " With a shop chosen: the answers (or tickets) of that shop."


@dataclass(frozen=True)
class Support:
    nps: Figure
    csat: Figure
    first_response_met: Figure
    first_response_median: Figure
    resolution_met: Figure
    resolution_median: Figure

    @property
    def tiles(self) -> list[Figure]:
        return [
            self.nps,
            self.csat,
            self.first_response_met,
            self.first_response_median,
            self.resolution_met,
            self.resolution_median,
        ]


def support(period: Period) -> Support:
    """Two grouped reads: the answers, and the response times by the minute."""
    answers = DailyFeedback.objects.filter(day__range=(period.first, period.last))
    times = DailyResponseTimes.objects.filter(day__range=(period.first, period.last))
    if period.shop_id is not None:
        answers, times = answers.filter(shop_id=period.shop_id), times.filter(shop_id=period.shop_id)
    fb = answers.aggregate(
        **{f: Sum(f, default=0) for f in ("nps_responses", "nps_promoters", "nps_detractors")},
        **{f: Sum(f, default=0) for f in ("csat_responses", "csat_satisfied")},
    )
    by_minute: dict[str, list[tuple[int, int]]] = {Kind.FIRST_RESPONSE: [], Kind.RESOLUTION: []}
    met: dict[str, list[int]] = {Kind.FIRST_RESPONSE: [0, 0], Kind.RESOLUTION: [0, 0]}
    grouped = (
        times.values("kind", "minutes")
        .annotate(n=Sum("tickets"), met=Sum("met"), missed=Sum("missed"))
        .order_by("kind", "minutes")
    )
    for g in grouped:
        by_minute[g["kind"]].append((g["minutes"], g["n"]))
        met[g["kind"]][0] += g["met"]
        met[g["kind"]][1] += g["missed"]
    n, promoters, detractors = fb["nps_responses"], fb["nps_promoters"], fb["nps_detractors"]
    rated, satisfied = fb["csat_responses"], fb["csat_satisfied"]
    return Support(
        nps=Figure(
            "nps",
            "Net Promoter Score",
            round(100 * (promoters - detractors) / n) if n else None,
            "NPS, −100 … 100",
            "From the answers to “how likely are you to recommend us?” (0–10) given in the period: "
            "the % of promoters (9–10) minus the % of detractors (0–6)." + BY_SHOP,
            link=links.nps(period),
            detail=f"{promoters:,} promoters, {n - promoters - detractors:,} passives, {detractors:,} detractors",
            thin=too_few(n, MIN_ANSWERS, "answers"),
        ),
        csat=Figure(
            "csat",
            "CSAT",
            percent(satisfied, rated),
            "% satisfied",
            "Of the ratings of solved tickets given in the period (1–5), the share of 4 and 5." + BY_SHOP,
            link=links.csat(period),
            detail=f"{satisfied:,} of {rated:,} ratings",
            thin=too_few(rated, MIN_ANSWERS, "ratings"),
            decimals=1,
        ),
        first_response_met=_within(period, Kind.FIRST_RESPONSE, *met[Kind.FIRST_RESPONSE], by_minute),
        first_response_median=_median(period, Kind.FIRST_RESPONSE, by_minute),
        resolution_met=_within(period, Kind.RESOLUTION, *met[Kind.RESOLUTION], by_minute),
        resolution_median=_median(period, Kind.RESOLUTION, by_minute),
    )


WORDS = {
    Kind.FIRST_RESPONSE: ("First responses", "first response", "first_responded_at", "first_response_met"),
    Kind.RESOLUTION: ("Resolutions", "resolution", "solved_at", "resolution_met"),
}


def _within(period: Period, kind: str, met: int, missed: int, by_minute: dict) -> Figure:
    title, noun, at, column = WORDS[kind]
    measured = met + missed
    total = sum(n for _, n in by_minute[kind])
    return Figure(
        f"{kind}_met",
        f"{title} within the SLA",
        percent(met, measured),
        "% within target",
        f"Of the tickets whose {noun} came in the period, the share that came before the SLA "
        f"policy's due time (business hours; the clock stops while a ticket waits on the customer). "
        f"Tickets no policy applied to are left out." + BY_SHOP,
        link=links.tickets(period, at, **{f"{column}__isnull": "False"}),
        detail=f"{met:,} of {measured:,} on time; {total - measured:,} without a target",
        thin=too_few(measured, MIN_ANSWERS, "tickets with a target"),
        decimals=1,
    )


def _median(period: Period, kind: str, by_minute: dict) -> Figure:
    title, noun, at, _ = WORDS[kind]
    rows = by_minute[kind]
    total = sum(n for _, n in rows)
    minutes = weighted_median(rows)
    return Figure(
        f"{kind}_median",
        f"Median time to {noun}",
        None if minutes is None else round(minutes / 60, 1),
        "hours",
        f"Half the tickets whose {noun} came in the period waited less than this, from opening, "
        f"on the clock (not business hours, pauses included)." + BY_SHOP,
        link=links.tickets(period, at),
        detail=f"over {total:,} tickets",
        thin=too_few(total, MIN_ANSWERS, "tickets"),
        decimals=1,
    )


def weighted_median(rows: list[tuple[int, int]]) -> float | None:
    """The median of values given as sorted (value, how many) pairs: the middle one, or the
    mean of the two middle ones."""
    total = sum(n for _, n in rows)
    if not total:
        return None
    wanted = [(total - 1) // 2, total // 2]  # 0-based positions of the middle
    found, seen = [], 0
    for value, n in rows:
        while wanted and wanted[0] < seen + n:
            found.append(value)
            wanted.pop(0)
        seen += n
    return sum(found) / 2
