"""The fields a segment rule may test, contributed by each app.

Every installed app may have a ``segment_fields`` module with a list ``SEGMENT_FIELDS`` of
plain dicts (so the app imports nothing from here, and dependencies keep pointing one way):

    {"name": "country", "label": "country", "group": "Customer", "type": "text",
     "path": "country"}

- ``type`` picks the operators offered and the value expected (see ``OPERATORS``).
- ``path`` is the ORM lookup path from ``Customer`` for a plain comparison; or ``build``,
  a function ``build(operator, value, window, now) -> Q`` for anything else (behaviour
  over a time window, computed figures).
- ``window``: "days" (the condition needs ``within_days``) or "days_or_hours".
- ``choices``: ``[(value, label), …]`` or a function returning them, for ``choice`` fields.
- ``datetime``: true when a ``date`` field is stored as a datetime.
- ``scoped``: true when ``build`` also takes ``scope=`` (a ``Q`` on ``Customer``, or None):
  the customers whose answer matters, so an aggregate can read only their rows. Such a
  ``build`` returns ``(Q, within)``, ``within`` being true when the ``Q`` only ever matches
  customers inside the scope (see ``campaigns.segments.compiler``).
- ``slice``: how the field reads one shop group's data, for rules run through a shop's key
  (``compile_rule(..., shops=…)``; docs/architecture.md, "Per-shop profiles"):
  - "profile": a profile field each shop identity keeps too: ``path`` (or the ``Q`` of
    ``build``) is also a lookup on ``CustomerIdentity``, tested on the group's identities;
  - "shops": ``build`` takes ``shops=``, a subquery of the group's shop ids, and reads only
    their orders or events; a field kept per person (a ``path``) gives a ``shop_build``
    instead, which takes ``scope=`` and ``shops=`` and returns ``(Q, within)`` as above;
  - "rows": a figure kept per shop group in rows of another model (loyalty accounts):
    ``rows(shops)`` gives the group's rows (each with a ``customer_id``) and ``row_path``
    the lookup on them that ``path`` is on ``Customer``;
  - "person" (the default): a figure of the whole person (stage, CLV…). Through a key it
    is unknown (as if not set) for everyone whenever any shop is outside the key's group.
- ``past``: whether the field can be read as of a past date, which the segment page's chart
  needs to work out members before the segment's recorded history
  (``campaigns.history``): true when the field's own ``build`` or ``path`` already answers
  as of the ``now`` it is given (behaviour over a window of dated rows, a fixed fact such as
  the day first seen); a function ``past(operator, value, window, now) -> Q`` for a figure
  stored as it is today that dated rows can rebuild (orders, days since the last order);
  false (the default) for what is known only as it is now (stage, RFM, CLV, tags, country,
  points).

Adding a field is adding a dict; the validator, compiler and sentence need no change.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.utils.module_loading import module_has_submodule

# operator: its words in the rule's sentence
OPERATOR_WORDS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "lt": "<",
    "lte": "≤",
    "gt": ">",
    "gte": "≥",
    "between": "is between",
    "contains": "contains",
    "is_set": "is set",
    "is_not_set": "is not set",
    "in_last_days": "is within the last",
    "before": "is before",
    "after": "is after",
}
# field type: the operators it offers, in the order the builder lists them
OPERATORS = {
    "text": ("eq", "ne", "in", "not_in", "contains", "is_set", "is_not_set"),
    "choice": ("eq", "ne", "in", "not_in", "is_set", "is_not_set"),
    "number": ("eq", "ne", "lt", "lte", "gt", "gte", "between", "is_set", "is_not_set"),
    "date": ("before", "after", "between", "in_last_days", "is_set", "is_not_set"),
    "bool": ("eq",),
    "month": ("eq", "ne", "in", "not_in", "is_set", "is_not_set"),
    "tags": ("in", "not_in"),  # has any of / has none of
    "window_number": ("eq", "ne", "lt", "lte", "gt", "gte", "between"),  # a total over a window
    "percent": ("lte", "lt", "gte", "gt", "between"),  # a rank, as the top N % (0–100)
    "window_items": ("in", "not_in"),  # bought any of / none of, in a window
    "event": ("eq", "ne"),  # did / did not do this event type, in a window
}


SLICES = ("profile", "shops", "rows", "person")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: str
    group: str = "Customer"
    path: str | None = None
    build: Callable | None = None
    window: str | None = None
    choices: tuple | Callable = ()
    datetime: bool = False
    scoped: bool = False
    slice: str = "person"
    shop_build: Callable | None = None
    rows: Callable | None = None
    row_path: str = ""
    help: str = ""
    past: bool | Callable = False
    money: bool = False  # an amount in the base currency: the sentence names the currency

    @property
    def operators(self) -> tuple[str, ...]:
        return OPERATORS[self.type]

    def choice_list(self) -> list[tuple[str, str]]:
        choices = self.choices() if callable(self.choices) else self.choices
        return [(str(value), str(label)) for value, label in choices]


@cache
def fields() -> dict[str, FieldSpec]:
    """Every registered field by name (the installed apps' ``segment_fields`` modules)."""
    from django.apps import apps

    found: dict[str, FieldSpec] = {}
    for config in apps.get_app_configs():
        if not module_has_submodule(config.module, "segment_fields"):
            continue
        module = importlib.import_module(f"{config.name}.segment_fields")
        for declared in module.SEGMENT_FIELDS:
            spec = FieldSpec(**declared)
            if spec.name in found:
                raise ValueError(f"segment field {spec.name!r} is declared twice")
            if spec.type not in OPERATORS:
                raise ValueError(f"segment field {spec.name!r} has an unknown type {spec.type!r}")
            if (spec.path is None) == (spec.build is None):
                raise ValueError(f"segment field {spec.name!r} needs exactly one of path and build")
            if (
                spec.slice not in SLICES
                or (spec.slice == "shops" and not (spec.build or spec.shop_build))
                or (spec.slice == "rows" and not (spec.rows and spec.row_path and spec.path))
            ):
                raise ValueError(f"segment field {spec.name!r} has no way to read one shop group's data")
            found[spec.name] = spec
    return found
