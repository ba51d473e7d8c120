"""The registry as the admin rule builder reads it: every field with its type, operators
(with the words to show), choices and time window, as plain JSON-ready data."""

from campaigns.segments.registry import OPERATOR_WORDS, fields
from campaigns.segments.rules import MAX_CONDITIONS, MAX_DEPTH

# Words that read better than the generic ones for some field types.
_TYPE_WORDS = {
    "window_items": {"in": "bought any of", "not_in": "bought none of"},
    "event": {"eq": "happened", "ne": "did not happen"},
    "tags": {"in": "include any of", "not_in": "include none of"},
}


def builder_schema() -> dict:
    return {
        "maxDepth": MAX_DEPTH,
        "maxConditions": MAX_CONDITIONS,
        "fields": [
            {
                "name": spec.name,
                "label": spec.label,
                "group": spec.group,
                "type": spec.type,
                "operators": [
                    {"value": o, "label": _TYPE_WORDS.get(spec.type, {}).get(o, OPERATOR_WORDS[o])}
                    for o in spec.operators
                ],
                "choices": spec.choice_list() if spec.type == "choice" else [],
                "window": spec.window,
                "help": spec.help,
            }
            for spec in fields().values()
        ],
    }
