"""A parsed rule as one ``Customer`` queryset: a single SQL query, no loop over customers.

Plain fields become lookups on their ORM path; fields with a ``build`` function (behaviour
over a window, computed figures) return their own ``Q``, as uncorrelated subqueries.

Scoping: a windowed total (spent, orders in a window) is an aggregate over every order in
the window, which costs the same whether one customer or a million pass the rule's other
conditions. So the compiler hands such a field's ``build`` a *scope*: the customers its
AND-siblings (plain conditions) and the caller allow, and the aggregate reads only their
orders. This is exact: inside an AND, the condition's answer matters only for customers the
siblings let through (also under NOT: NOT (A AND B) is true wherever A is false).

A scoped ``build`` also says whether its ``Q`` only matches customers inside the scope
("spent ≥ 200" does; "spent < 50" does not, since it also matches customers with no order).
When one does, the AND's plain conditions are implied by it and are not tested again: the
query becomes one semi-join on the windowed totals of the narrowed customers.

Shop groups: through a shop's key a rule reads only the key's shop group's data
(``shops``: a subquery of the group's shop ids). Each field says how (its ``slice`` in
``campaigns.segments.registry``): profile fields test the group's identities, behaviour and
totals read the group's orders and events, rows kept per group (loyalty accounts) are the
group's rows, and a figure of the whole person (stage, CLV…) is taken as unknown, matching
as a NULL would, whenever any shop is outside the group. That is decided for the whole
installation, not per customer: "unknown only for people who also buy elsewhere" would let
a key list exactly those people ("stage is not set").
"""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import reduce
from operator import and_, or_

from django.db.models import Exists, Q, QuerySet
from django.utils import timezone

from campaigns.segments.registry import FieldSpec
from campaigns.segments.rules import Condition, Group
from core.days import start_of
from customers.models import Customer, CustomerIdentity, Shop

_LOOKUPS = {"lt": "lt", "lte": "lte", "gt": "gt", "gte": "gte", "before": "lt", "after": "gt"}


def compile_rule(
    rule: Group, *, now: datetime | None = None, scope: Q | None = None, shops=None, past: bool = False
) -> Q:
    """The rule as a ``Q`` on ``Customer``, exact for the customers in ``scope`` (all if None),
    reading only the data of the shops in ``shops`` (a queryset of shop ids) if given.

    With ``past``, as of ``now`` taken as a past time: each field read the way its ``past``
    declaration says (``registry``); a rule with a field known only as it is now is refused
    (``ValueError``: ``fields_known_only_now`` tells which beforehand)."""
    if past and (current := fields_known_only_now(rule)):
        raise ValueError(f"{', '.join(f.label for f in current)}: known only as it is now")
    return _group(rule, now or timezone.now(), scope, shops, past)[0]


def fields_known_only_now(rule: Group) -> list[FieldSpec]:
    """The fields the rule tests that cannot be read as of a past date, each once, in order."""
    found: dict[str, FieldSpec] = {}
    for child in rule.children:
        for spec in fields_known_only_now(child) if isinstance(child, Group) else [child.field]:
            if not spec.past:
                found.setdefault(spec.name, spec)
    return list(found.values())


def matching(
    rule: Group, *, now: datetime | None = None, customer_ids: Sequence[int] | None = None
) -> QuerySet[Customer]:
    """The customers the rule matches, as of ``now``; only among ``customer_ids`` if given."""
    scope = None if customer_ids is None else Q(pk__in_ids=customer_ids)  # one parameter (core.db.lookups)
    customers = Customer.objects.filter(compile_rule(rule, now=now, scope=scope))
    return (customers if scope is None else customers.filter(scope)).order_by()


def _group(group: Group, now, scope: Q | None, shops, past: bool = False) -> tuple[Q, bool]:
    """The group's ``Q``, and whether it only ever matches customers inside ``scope``."""
    # Plain conditions first (each compiled once): in an AND they narrow the others' scope.
    plain = {
        i: _condition(c, now, None, shops, past)[0]
        for i, c in enumerate(group.children)
        if isinstance(c, Condition) and not c.field.scoped
    }
    narrowed = scope
    if group.match == "all" and plain:
        narrowed = reduce(and_, [*plain.values()] if scope is None else [scope, *plain.values()])
    others = {
        i: _group(c, now, narrowed, shops, past) if isinstance(c, Group) else _condition(c, now, narrowed, shops, past)
        for i, c in enumerate(group.children)
        if i not in plain
    }
    if group.match == "all":
        # A part that only matches inside the narrowed scope already implies the plain
        # conditions (and the caller's scope): the query need not test them a second time.
        within = any(inside for _, inside in others.values())
        parts = [q for q, _ in others.values()] if within else [*plain.values(), *(q for q, _ in others.values())]
    else:
        within = not plain and all(inside for _, inside in others.values())
        parts = [*plain.values(), *(q for q, _ in others.values())]
    combined = reduce(and_ if group.match == "all" else or_, parts)
    return (~combined, False) if group.negate else (combined, within and scope is not None)


# Operators that a missing value passes (as Django's ``~Q`` treats NULL).
MISSING_PASSES = ("ne", "not_in", "is_not_set")
# Each of those, and the operator it negates.
POSITIVE = {"ne": "eq", "not_in": "in", "is_not_set": "is_set"}


def _condition(c: Condition, now, scope: Q | None, shops=None, past: bool = False) -> tuple[Q, bool]:
    """The condition's ``Q``, and whether it only ever matches customers inside ``scope``."""
    spec = c.field
    if past and callable(spec.past):  # a figure stored as it is today, rebuilt from dated rows
        return spec.past(c.operator, c.value, c.window, now), False
    if shops is not None:
        return _sliced(c, now, scope, shops)
    if spec.scoped:
        return spec.build(c.operator, c.value, c.window, now, scope=scope)
    if spec.build is not None:
        return spec.build(c.operator, c.value, c.window, now), False
    return _plain(c, now), False


def _sliced(c: Condition, now, scope: Q | None, shops) -> tuple[Q, bool]:
    """The condition on the data of ``shops`` alone (see the module's docstring)."""
    spec = c.field
    if spec.slice == "shops":
        if spec.shop_build is not None:  # a figure kept per person, summed here from the group's orders
            return spec.shop_build(c.operator, c.value, c.window, now, scope=scope, shops=shops)
        if spec.scoped:
            return spec.build(c.operator, c.value, c.window, now, scope=scope, shops=shops)
        return spec.build(c.operator, c.value, c.window, now, shops=shops), False
    if spec.slice == "profile":
        on_identity = spec.build(c.operator, c.value, c.window, now) if spec.build else _plain(c, now)
        sent = CustomerIdentity.objects.filter(on_identity, shop_id__in=shops).order_by()
        return Q(pk__in=sent.values("customer_id")), False
    if spec.slice == "rows":
        # Rows kept per group: a customer matches on the group's row; one with no row there
        # matches as a NULL would, so the negative operators are tested as "no row matches
        # the positive one".
        positive = POSITIVE.get(c.operator)
        on_row = _plain(replace(c, operator=positive or c.operator, field=replace(spec, path=spec.row_path)), now)
        q = Q(pk__in=spec.rows(shops).filter(on_row).order_by().values("customer_id"))
        return (~q, False) if positive else (q, False)
    q, within = _condition(c, now, scope)
    whole = ~Exists(Shop.objects.exclude(pk__in=shops))
    if c.operator in MISSING_PASSES:
        return q | ~Q(whole), False
    return q & Q(whole), within


def _plain(c: Condition, now) -> Q:
    spec = c.field
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
        return start_of(day) if is_datetime else day

    if operator == "before":
        return Q(**{f"{path}__lt": start(value)})
    if operator == "after":  # after the whole day
        return Q(**{f"{path}__gte": start(value + timedelta(days=1))})
    low, high = value  # between, both days included
    return Q(**{f"{path}__gte": start(low), f"{path}__lt": start(high + timedelta(days=1))})
