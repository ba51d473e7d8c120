"""A parsed rule as a plain-English sentence, e.g.
"customers where country is DE AND (spent ≥ 200 USD in the last 90 days OR lifecycle stage is at risk)".
Amounts name the base currency, as every money figure does."""

import calendar

from campaigns.segments.registry import OPERATOR_WORDS
from campaigns.segments.rules import Condition, Group
from customers.services.currency import base_currency


def sentence(rule: Group) -> str:
    return f"customers where {_group(rule, top=True)}"


def _group(group: Group, top: bool = False) -> str:
    joiner = " AND " if group.match == "all" else " OR "
    parts = [_group(c) if isinstance(c, Group) else _condition(c) for c in group.children]
    text = joiner.join(parts)
    if group.negate:
        return f"NOT ({text})"
    return text if top or len(parts) == 1 else f"({text})"


def _window(c: Condition) -> str:
    amount, unit = c.window_amount, c.window_unit
    return f"in the last {amount} {unit if amount != 1 else unit.removesuffix('s')}"


def _value(c: Condition, value) -> str:
    if c.field.type == "choice":
        return dict(c.field.choice_list()).get(value, value).lower()
    if c.field.type == "month":
        return calendar.month_name[value]
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{text} {base_currency()}" if c.field.money else text


def _condition(c: Condition) -> str:
    label, operator, value = c.field.label, c.operator, c.value
    kind = c.field.type
    if kind == "window_items":
        listed = ", ".join(value)
        return (
            f"{'bought' if operator == 'in' else 'did not buy'} {label.removeprefix('bought ')} {listed} {_window(c)}"
        )
    if kind == "event":
        return f"{'had' if operator == 'eq' else 'had no'} event {value} {_window(c)}"
    if kind == "tags":
        return f"tags {'include any of' if operator == 'in' else 'include none of'} {', '.join(value)}"
    words = OPERATOR_WORDS[operator]
    if operator in ("is_set", "is_not_set"):
        text = f"{label} {words}"
    elif operator in ("in", "not_in"):
        text = f"{label} {words} {', '.join(_value(c, v) for v in value)}"
    elif operator == "between":
        text = f"{label} {words} {_value(c, value[0])} and {_value(c, value[1])}"
    elif operator == "in_last_days":
        text = f"{label} {words} {value} day{'s' * (value != 1)}"
    elif operator == "contains":
        text = f"{label} {words} “{value}”"
    else:
        text = f"{label} {words} {_value(c, value)}"
    if c.window is not None:
        text = f"{text} {_window(c)}"
    return text
