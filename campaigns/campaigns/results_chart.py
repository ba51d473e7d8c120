"""The campaign page's chart of results per variant, laid out for an inline SVG (no script,
nothing fetched), as the segment page's chart is: for each arm, bars of opens, clicks and
unsubscribes per recipient, with the axis in per cent of recipients. Opens are drawn
hatched: Apple Mail Privacy Protection opens every message it receives."""

from __future__ import annotations

from campaigns.charts import nice_ticks
from campaigns.experiments.counts import ArmResult

WIDTH, LEFT, RIGHT, TOP = 760, 90, 20, 28
ROW, BAR = 54, 14
SERIES = [("opens", "opened (unreliable)"), ("clicks", "clicked"), ("unsubscribes", "unsubscribed")]


def results_chart(arms: list[ArmResult]) -> dict | None:
    """None when no arm has recipients yet."""
    shown = [arm for arm in arms if arm.recipients]
    if not shown:
        return None
    top_rate = max(getattr(arm, name) / arm.recipients for arm in shown for name, _ in SERIES)
    ticks = nice_ticks(max(1, round(top_rate * 100 + 0.5)))
    top = ticks[-1]
    plot = WIDTH - LEFT - RIGHT

    def x(percent: float) -> float:
        return LEFT + percent / top * plot

    rows = []
    for i, arm in enumerate(shown):
        y0 = TOP + i * ROW
        bars = []
        for j, (name, label) in enumerate(SERIES):
            count = getattr(arm, name)
            percent = count / arm.recipients * 100
            bars.append(
                {
                    "kind": name,
                    "x": LEFT,
                    "y": f"{y0 + j * BAR:.1f}",
                    "w": f"{max(x(percent) - LEFT, 0.5):.1f}",
                    "h": BAR - 2,
                    "label": f"{percent:.1f} %",
                    "label_x": f"{x(percent) + 4:.1f}",
                    "title": f"{arm.label}: {count:,} of {arm.recipients:,} recipients {label}",
                }
            )
        rows.append({"label": arm.label, "y": f"{y0 + BAR * 1.5 + 4:.1f}", "bars": bars})
    height = TOP + len(shown) * ROW + 6
    return {
        "width": WIDTH,
        "height": height,
        "left": LEFT,
        "top": TOP,
        "bottom": height - 6,
        "unit": "% of recipients",
        "unit_y": TOP - 12,
        "ticks": [{"x": f"{x(t):.1f}", "label": f"{t} %"} for t in ticks],
        "rows": rows,
        "legend": [{"kind": name, "label": label} for name, label in SERIES],
    }
