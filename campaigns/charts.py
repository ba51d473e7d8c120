"""The segment page's chart of member count over time, laid out for an inline SVG (no
script, nothing fetched): the template draws what this computes.

The line is solid where the count was recorded (the segment was being refreshed), dashed
where it was worked out from the order history before the first refresh, and absent where
it cannot be known; the caption says which. Axes carry their unit: members, and entries and
exits per day."""

import math

from campaigns.backfill import history_rule_known_only_now
from campaigns.models import Segment
from campaigns.selectors import DayKind, HistoryDay

WIDTH, HEIGHT, FLOW_HEIGHT = 760, 160, 50
LEFT, RIGHT, TOP = 110, 10, 26  # room for "120 entered" on the left, and each axis's unit above it
GAP = 42  # between the member line and the flows: the date labels, then the flows' unit


def nice_ticks(top: int, count: int = 4) -> list[int]:
    """Round tick values from 0 to at least ``top`` (whole members), about ``count`` steps."""
    top = max(top, 1)
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    step = max(1, math.ceil(step))
    return list(range(0, math.ceil(top / step) * step + 1, step))


def day_label(day) -> str:
    return f"{day.day} {day:%b}"


def history_caption(segment: Segment, history: list[HistoryDay]) -> str:
    """What the chart shows, in words: where the recorded history starts and what came before."""
    kinds = {day.kind for day in history}
    if segment.history_since is None:
        return "No history yet: the segment has not been refreshed."
    start = next((day.day for day in history if day.kind == DayKind.RECORDED), None)
    if start is None or start == history[0].day:
        return "The line is the member count at the end of each day."
    started = f"{start.day} {start:%B %Y}"
    if segment.kind == Segment.Kind.STATIC:
        return f"History starts on {started}, when its members were first listed: a static segment has no earlier list."
    if DayKind.UNKNOWN not in kinds:
        return (
            f"Recorded from {started}, the first refresh (solid line); before it, worked out from the "
            "order history with the rule as it was then (dashed line)."
        )
    if current := history_rule_known_only_now(segment):
        tests = ", ".join(current)
        why = f"the rule tests {tests}, known only as {'it is' if len(current) == 1 else 'they are'} now"
    else:
        why = "the days before it are still being worked out from the order history"
    return f"History starts on {started}, the first refresh: {why}."


def first_fill_label(segment: Segment) -> str:
    """How the entries table names the members the history began with."""
    return "when first listed" if segment.kind == Segment.Kind.STATIC else "at the first refresh"


def member_chart(history: list[HistoryDay]) -> dict:
    """The member-count line (recorded and estimated parts), and each recorded day's entries
    (up) and exits (down) as bars, with labelled axes."""
    known = [h.members for h in history if h.members is not None]
    ticks = nice_ticks(max(known, default=0))
    top = ticks[-1]
    flow_ticks = nice_ticks(max([max(h.entered, h.exited) for h in history] + [0]), count=2)
    flow_top = flow_ticks[-1]
    step = (WIDTH - LEFT - RIGHT) / max(len(history) - 1, 1)
    bar = max(step * 0.4, 1.0)
    bottom = TOP + HEIGHT
    base = bottom + GAP + FLOW_HEIGHT  # the flows' zero line

    def x(i: int) -> float:
        return LEFT + i * step

    def y(members: int) -> float:
        return bottom - members / top * HEIGHT

    def line(kinds: tuple[str, ...], extend_to_recorded: bool = False) -> str:
        points = [(i, h) for i, h in enumerate(history) if h.kind in kinds and h.members is not None]
        if extend_to_recorded and points:  # the dashed part meets the solid line
            after = next((i for i, h in enumerate(history) if h.kind == DayKind.RECORDED), None)
            if after is not None:
                points.append((after, history[after]))
        return " ".join(f"{x(i):.1f},{y(h.members):.1f}" for i, h in points)

    flows = []
    for i, h in enumerate(history):
        left = x(i) - bar / 2
        if h.entered:
            size = h.entered / flow_top * FLOW_HEIGHT
            flows.append(_bar(left, base - size, bar, size, "entered", f"{h.day}: {h.entered:,} entered"))
        if h.exited:
            size = h.exited / flow_top * FLOW_HEIGHT
            flows.append(_bar(left, base, bar, size, "exited", f"{h.day}: {h.exited:,} left"))

    unknown = [i for i, h in enumerate(history) if h.kind == DayKind.UNKNOWN]
    recorded = [i for i, h in enumerate(history) if h.kind == DayKind.RECORDED]
    start = recorded[0] if recorded and recorded[0] > 0 else None
    height = (base + FLOW_HEIGHT + 8) if flows else (bottom + 24)  # no entries or exits: no flows drawn
    chart = {
        "width": WIDTH,
        "height": height,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "line_top": TOP,
        "line_bottom": bottom,
        "middle": (TOP + bottom) // 2,
        "plot_height": HEIGHT,
        "unit_y": TOP - 12,
        "base": base,
        "flow_unit_y": base - FLOW_HEIGHT - 10,
        "flow_top_y": base - FLOW_HEIGHT,
        "flow_bottom_y": base + FLOW_HEIGHT,
        "date_y": bottom + 16,
        "recorded": line((DayKind.RECORDED,)),
        "estimated": line((DayKind.ESTIMATED,), extend_to_recorded=True),
        "ticks": [{"y": f"{y(t):.1f}", "label": f"{t:,}"} for t in ticks],
        "unit": "members",
        "flow_top": f"{flow_top:,} entered",
        "flow_bottom": f"{flow_top:,} left",
        "dates": _date_labels(history, x),
        "unknown": _span(unknown, x, step) if unknown else None,
        "start": None,
        "flows": flows,
    }
    if start is not None:  # where the recorded history begins: marked, with its first count
        first = history[start]
        chart["start"] = {
            "x": f"{x(start):.1f}",
            "y": f"{y(first.members):.1f}",
            "label": "first refresh",
            "title": f"{first.day}: {first.members:,} members at the first refresh",
        }
    return chart


def _span(indexes: list[int], x, step: float) -> dict:
    """The stretch of days with no history, shaded, with its middle for a label."""
    first, last = indexes[0], indexes[-1]
    return {
        "x": f"{max(x(first) - step / 2, LEFT):.1f}",
        "w": f"{(last - first + 1) * step:.1f}",
        "mid": f"{(x(first) + x(last)) / 2:.1f}",
    }


def _bar(x: float, y: float, width: float, height: float, kind: str, title: str) -> dict:
    return {"x": f"{x:.1f}", "y": f"{y:.1f}", "w": f"{width:.1f}", "h": f"{height:.1f}", "kind": kind, "title": title}


def _date_labels(history: list[HistoryDay], x) -> list[dict]:
    """The first and last day, and each month's first day not too close to them."""
    last = len(history) - 1
    labels = [(0, "start"), (last, "end")]
    labels += [(i, "middle") for i, h in enumerate(history) if h.day.day == 1 and 6 <= i <= last - 6]
    return [{"x": f"{x(i):.1f}", "label": day_label(history[i].day), "anchor": anchor} for i, anchor in labels]
