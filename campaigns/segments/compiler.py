"""A parsed rule as one ``Customer`` queryset: a single SQL query, no loop over customers.

Plain fields become lookups on their ORM path; fields with a ``build`` function (behaviour
over a window, computed figures) return their own ``Q``, as uncorrelated subqueries.
"""

from datetime import datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from campaigns.segments.rules import Condition, Group
from customers.models import Customer

_LOOKUPS = {"lt": "lt", "lte": "lte", "gt": "gt", "gte": "gte", "before": "lt", "after": "gt"}


def compile_rule(rule: Group, *, now: datetime | None = None) -> Q:
    return _group(rule, now or timezone.now())


def matching(rule: Group, *, now: datetime | None = None) -> QuerySet[Customer]:
    """The customers the rule matches, as of ``now``."""
    return Customer.objects.filter(compile_rule(rule, now=now)).order_by()


def _group(group: Group, now) -> Q:
    parts = [_group(c, now) if isinstance(c, Group) else _condition(c, now) for c in group.children]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if group.match == "all" else combined | part
    return ~combined if group.negate else combined


def _condition(c: Condition, now) -> Q:
    spec = c.field
    if spec.build is not None:
        return spec.build(c.operator, c.value, c.window, now)
    path, operator, value = spec.path, c.operator, c.value
    if spec.type == "date":
        return _date(path, operator, value, spec.datetime, now)
    if operator == "is_set":
        return _is_set(path, spec.type)
    if operator == "is_not_set":
        return ~_is_set(path, spec.type)
    if operator == "eq":
        return Q(**{path: value})
    if operator == "ne":
        return ~Q(**{path: value})
    if operator == "in":
        return Q(**{f"{path}__in": value})
    if operator == "not_in":
        return ~Q(**{f"{path}__in": value})
    if operator == "contains":
        return Q(**{f"{path}__icontains": value})
    if operator == "between":
        return Q(**{f"{path}__gte": value[0], f"{path}__lte": value[1]})
    return Q(**{f"{path}__{_LOOKUPS[operator]}": value})


def _is_set(path: str, kind: str) -> Q:
    if kind == "text":
        return Q(**{f"{path}__isnull": False}) & ~Q(**{path: ""})
    return Q(**{f"{path}__isnull": False})


def _date(path: str, operator: str, value, is_datetime: bool, now) -> Q:
    if operator == "is_set":
        return Q(**{f"{path}__isnull": False})
    if operator == "is_not_set":
        return Q(**{f"{path}__isnull": True})
    if operator == "in_last_days":
        since = now - timedelta(days=value)
        return Q(**{f"{path}__gte": since if is_datetime else timezone.localdate(since)})

    def start(day):  # a day's first instant in the CRM's time zone, for datetime fields
        return timezone.make_aware(datetime.combine(day, time.min)) if is_datetime else day

    if operator == "before":
        return Q(**{f"{path}__lt": start(value)})
    if operator == "after":  # after the whole day
        return Q(**{f"{path}__gte": start(value + timedelta(days=1))})
    low, high = value  # between, both days included
    return Q(**{f"{path}__gte": start(low), f"{path}__lt": start(high + timedelta(days=1))})
