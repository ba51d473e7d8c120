"""The segment page's chart of member count over time, laid out for an inline SVG (no
script, nothing fetched): the template draws what this computes."""

from campaigns.selectors import HistoryDay

WIDTH, HEIGHT, FLOW_HEIGHT, LEFT = 760, 160, 50, 60


def member_chart(history: list[HistoryDay]) -> dict:
    """The member-count line, and each day's entries (up) and exits (down) as bars."""
    top = max([h.members for h in history] + [1])
    flow_top = max([max(h.entered, h.exited) for h in history] + [1])
    step = (WIDTH - LEFT - 10) / max(len(history) - 1, 1)
    bar = max(step * 0.4, 1.0)
    base = HEIGHT + 20 + FLOW_HEIGHT  # the flows' zero line
    points = " ".join(
        f"{LEFT + i * step:.1f},{10 + HEIGHT - h.members / top * HEIGHT:.1f}" for i, h in enumerate(history)
    )
    flows = []
    for i, h in enumerate(history):
        x = LEFT + i * step - bar / 2
        if h.entered:
            size = h.entered / flow_top * FLOW_HEIGHT
            flows.append(
                {
                    "x": f"{x:.1f}",
                    "y": f"{base - size:.1f}",
                    "w": f"{bar:.1f}",
                    "h": f"{size:.1f}",
                    "kind": "entered",
                    "title": f"{h.day}: {h.entered:,} entered",
                }
            )
        if h.exited:
            size = h.exited / flow_top * FLOW_HEIGHT
            flows.append(
                {
                    "x": f"{x:.1f}",
                    "y": f"{base:.1f}",
                    "w": f"{bar:.1f}",
                    "h": f"{size:.1f}",
                    "kind": "exited",
                    "title": f"{h.day}: {h.exited:,} left",
                }
            )
    return {
        "width": WIDTH,
        "height": base + FLOW_HEIGHT + 24,
        "left": LEFT,
        "right": WIDTH - 10,
        "line_top": 10,
        "line_bottom": 10 + HEIGHT,
        "base": base,
        "label_y": base + FLOW_HEIGHT + 18,
        "points": points,
        "top": f"{top:,}",
        "flow_top": f"{flow_top:,}",
        "first": history[0].day,
        "last": history[-1].day,
        "flows": flows,
    }
