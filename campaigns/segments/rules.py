"""A segment rule: a tree of AND/OR groups of conditions, checked before anything runs.

As JSON (what the admin builder and the API send)::

    {"match": "all", "negate": false, "children": [
        {"field": "country", "operator": "in", "value": ["DE", "AT"]},
        {"match": "any", "children": [
            {"field": "spent", "operator": "gte", "value": 200, "within_days": 90},
            {"field": "stage", "operator": "eq", "value": "at_risk"}]}]}

``parse`` turns it into ``Group`` and ``Condition`` nodes with normalised values, or raises
``RuleError`` listing every problem, each naming where it is ("condition 2 of group 1
(country)") and what to do about it. Nothing else accepts a rule.
"""

import math
from dataclasses import dataclass
from datetime import date, timedelta

from campaigns.segments.registry import FieldSpec, fields

MAX_DEPTH = 5  # groups inside groups
MAX_CONDITIONS = 50
MAX_LIST = 100  # values in one "is one of" list
MAX_TEXT = 200
MAX_DAYS = 3650
MAX_HOURS = 24 * 365
NO_VALUE = ("is_set", "is_not_set")


@dataclass(frozen=True)
class Condition:
    field: FieldSpec
    operator: str
    value: object  # normalised: str, int, float, bool, date, or a list/pair of them
    window: timedelta | None = None
    window_unit: str = ""  # "days" or "hours", as the rule gave it

    @property
    def window_amount(self) -> int:
        hours = int(self.window.total_seconds() // 3600)
        return hours if self.window_unit == "hours" else hours // 24

    def as_json(self) -> dict:
        data = {"field": self.field.name, "operator": self.operator}
        if self.operator not in NO_VALUE:
            data["value"] = _json_value(self.value)
        if self.window is not None:
            data[f"within_{self.window_unit}"] = self.window_amount
        return data


@dataclass(frozen=True)
class Group:
    match: str  # "all" or "any"
    negate: bool
    children: tuple  # of Group | Condition

    def as_json(self) -> dict:
        return {"match": self.match, "negate": self.negate, "children": [c.as_json() for c in self.children]}

    def conditions(self):
        for child in self.children:
            if isinstance(child, Group):
                yield from child.conditions()
            else:
                yield child


class RuleError(ValueError):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def _json_value(value):
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def parse(data) -> Group:
    """The rule as nodes, or ``RuleError`` with every problem found."""
    errors: list[str] = []
    counter = {"conditions": 0}
    group = _group(data, "the rule", 1, errors, counter)
    if counter["conditions"] > MAX_CONDITIONS:
        errors.append(f"the rule has {counter['conditions']} conditions; at most {MAX_CONDITIONS} are allowed")
    if errors or group is None:
        raise RuleError(errors or ["the rule is empty"])
    return group


def _group(data, where: str, depth: int, errors: list[str], counter: dict) -> Group | None:
    if not isinstance(data, dict):
        errors.append(f'{where}: expected a group like {{"match": "all", "children": [...]}}')
        return None
    unknown = set(data) - {"match", "negate", "children"}
    if unknown:
        errors.append(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}")
    match = data.get("match", "all")
    if match not in ("all", "any"):
        errors.append(f'{where}: match must be "all" (AND) or "any" (OR)')
    negate = data.get("negate", False)
    if not isinstance(negate, bool):
        errors.append(f"{where}: negate must be true or false")
    children = data.get("children")
    if not isinstance(children, list) or not children:
        errors.append(f"{where}: a group needs a non-empty list of children")
        return None
    if depth > MAX_DEPTH:
        errors.append(f"{where}: groups may be nested at most {MAX_DEPTH} deep")
        return None
    nodes = []
    for i, child in enumerate(children, start=1):
        if isinstance(child, dict) and "children" in child:
            node = _group(child, f"group {i} of {where}", depth + 1, errors, counter)
        else:
            counter["conditions"] += 1
            node = _condition(child, f"condition {i} of {where}", errors)
        if node is not None:
            nodes.append(node)
    if len(nodes) != len(children):
        return None
    return Group(match=match, negate=negate is True, children=tuple(nodes))


def _condition(data, where: str, errors: list[str]) -> Condition | None:
    if not isinstance(data, dict):
        errors.append(f'{where}: expected a condition like {{"field": …, "operator": …, "value": …}}')
        return None
    name = data.get("field")
    spec = fields().get(name) if isinstance(name, str) else None
    if spec is None:
        errors.append(f"{where}: unknown field {name!r}")
        return None
    where = f"{where} ({spec.label})"
    unknown = set(data) - {"field", "operator", "value", "within_days", "within_hours"}
    if unknown:
        errors.append(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}")
    operator = data.get("operator")
    if operator not in spec.operators:
        errors.append(f"{where}: operator {operator!r} does not apply; use one of {', '.join(spec.operators)}")
        return None
    window = _window(spec, data, where, errors)
    if operator in NO_VALUE:
        if "value" in data and data["value"] is not None:
            errors.append(f"{where}: {operator} takes no value")
        value = None
    else:
        if data.get("value") is None:
            errors.append(f"{where}: a value is required")
            return None
        try:
            value = _value(spec, operator, data["value"])
        except ValueError as error:
            errors.append(f"{where}: {error}")
            return None
    if window is False:
        return None
    unit = "" if window is None else ("hours" if data.get("within_hours") is not None else "days")
    return Condition(field=spec, operator=operator, value=value, window=window, window_unit=unit)


def _window(spec: FieldSpec, data: dict, where: str, errors: list[str]):
    days, hours = data.get("within_days"), data.get("within_hours")
    if spec.window is None:
        if days is not None or hours is not None:
            errors.append(f"{where}: this field takes no time window")
            return False
        return None
    if hours is not None and spec.window != "days_or_hours":
        errors.append(f"{where}: give the window in days (within_days)")
        return False
    if (days is None) == (hours is None):
        errors.append(
            f"{where}: give the time window as within_days"
            + (" or within_hours" if spec.window == "days_or_hours" else "")
        )
        return False
    amount, limit, unit = (days, MAX_DAYS, "days") if days is not None else (hours, MAX_HOURS, "hours")
    if not _is_int(amount) or not 1 <= amount <= limit:
        errors.append(f"{where}: the window must be a whole number of {unit} from 1 to {limit}")
        return False
    return timedelta(days=amount) if unit == "days" else timedelta(hours=amount)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{value!r} is not a number")
    if abs(value) > 1e12:
        raise ValueError(f"{value!r} is out of range")
    return value


def _percent(value) -> float | int:
    if _number(value) < 0 or value > 100:
        raise ValueError(f"{value!r} is not a percentage (0–100)")
    return value


def _text(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a non-empty text")
    if len(value) > MAX_TEXT or "\x00" in value:
        raise ValueError(f"the text must be at most {MAX_TEXT} characters, without NUL")
    return value.strip()


EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


def _date(value) -> date:
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"{value} is not between {EARLIEST} and {LATEST}")
    return day


def _month(value) -> int:
    if not _is_int(value) or not 1 <= value <= 12:
        raise ValueError(f"{value!r} is not a month (1–12)")
    return value


def _choice(spec: FieldSpec):
    allowed = dict(spec.choice_list())

    def check(value) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return check


def _value(spec: FieldSpec, operator: str, value):
    one = {
        "text": _text,
        "tags": _text,
        "window_items": _text,
        "event": _text,
        "choice": _choice(spec) if spec.type == "choice" else None,
        "number": _number,
        "window_number": _number,
        "percent": _percent,
        "month": _month,
        "date": _date,
        "bool": None,
    }[spec.type]
    if value is None or (isinstance(value, list) and None in value):
        raise ValueError("a value is required" if value is None else "every value is required")
    if spec.type == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{value!r} is not true or false")
        return value
    if spec.type == "date" and operator == "in_last_days":
        if not _is_int(value) or not 1 <= value <= MAX_DAYS * 10:
            raise ValueError(f"{value!r} is not a whole number of days from 1 to {MAX_DAYS * 10}")
        return value
    if operator in ("in", "not_in"):
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
            raise ValueError(f"expected a list of 1 to {MAX_LIST} values")
        return sorted({one(v) for v in value}, key=str)
    if operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise ValueError("expected two values, [from, to]")
        low, high = one(value[0]), one(value[1])
        if low > high:
            raise ValueError(f"{_json_value(low)} is after {_json_value(high)}; give [from, to]")
        return [low, high]
    return one(value)
