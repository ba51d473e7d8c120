"""Text inside a flow's JSON parameters: no control characters (NUL and the like), anywhere,
keys included. A NUL would be refused by PostgreSQL on write, and the others only hide in
what staff read."""

from __future__ import annotations


def control_character_at(value, path: str = "") -> str | None:
    """The first key (as a dotted path) whose name or text holds a control character, or
    None. Newlines and tabs are allowed in text (a ticket's body has lines)."""
    if isinstance(value, str):
        return path or "value" if any(not c.isprintable() and c not in "\n\r\t" for c in value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            shown = str(key).encode("unicode_escape").decode()  # a path fit to print
            here = f"{path}.{shown}" if path else shown
            if not str(key).isprintable():
                return here
            if (found := control_character_at(item, here)) is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            if (found := control_character_at(item, f"{path}[{i}]")) is not None:
                return found
    return None
