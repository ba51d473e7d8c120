"""Reads about segments for the API and the admin."""

from dataclasses import dataclass

from django.db.models import QuerySet

from campaigns.models import Segment, SegmentMembership
from campaigns.segments.compiler import compile_rule
from campaigns.segments.rules import parse
from campaigns.segments.sentence import sentence
from customers.models import Customer

SAMPLE_SIZE = 20


@dataclass(frozen=True)
class Preview:
    count: int
    sentence: str
    sample: list[Customer]


def segment_preview(*, rule: dict, customers: QuerySet[Customer]) -> Preview:
    """How many of ``customers`` the rule matches, the rule as a sentence, and a sample of
    them (``RuleError`` if the rule is not valid). Two queries."""
    parsed = parse(rule)
    matched = customers.filter(compile_rule(parsed)).order_by()
    return Preview(
        count=matched.count(),
        sentence=sentence(parsed),
        sample=list(matched.order_by("-id")[:SAMPLE_SIZE]),
    )


def segment_members(*, segment: Segment, customers: QuerySet[Customer]) -> QuerySet[Customer]:
    """The current members among ``customers``."""
    stays = SegmentMembership.objects.filter(segment=segment, exited_at=None)
    return customers.filter(pk__in=stays.values("customer_id"))


def customer_segments(*, customer_id: int) -> QuerySet[SegmentMembership]:
    """The customer's open stays, with their segments."""
    return (
        SegmentMembership.objects.filter(customer_id=customer_id, exited_at=None)
        .select_related("segment")
        .order_by("segment__name")
    )
