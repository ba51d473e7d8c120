"""Messages written by the staff: a campaign's or a flow's subject, preheader and body.

They are Django template source with the same context as every message (``customer``,
``tier``, ``points``, ``recommended_products`` …), rendered when the message is, inside the
``authored`` template (the base layout: logo, footer, unsubscribe link). The source travels
in the message's context under ``authored``, so a message renders the same after an edit to
its campaign.

Only a few tags are allowed (``ALLOWED_TAGS``): a marketer can print values, test and loop,
but not load tag libraries, include other templates or print the whole context.
``authored_problems`` says what is wrong with a source before it is saved.
"""

from __future__ import annotations

import re
from functools import lru_cache

from django.template import Context, Engine, Template, TemplateSyntaxError
from django.utils.safestring import mark_safe

AUTHORED = "authored"
ALLOWED_TAGS = frozenset(
    {"if", "elif", "else", "endif", "for", "empty", "endfor", "with", "endwith", "firstof", "comment", "endcomment"}
)
_TAG = re.compile(r"{%-?\s*(\w+)")


def authored_problems(source: str) -> list[str]:
    """What stops ``source`` from being used as an authored subject or body: a tag that is
    not allowed, or a syntax error; empty when it is fine."""
    problems = [f"The tag {{% {name} %}} is not allowed here." for name in sorted(_tags(source) - ALLOWED_TAGS)]
    if problems:
        return problems
    try:
        Template(source, engine=_check_engine())
    except TemplateSyntaxError as error:
        return [str(error)]
    return []


def _tags(source: str) -> set[str]:
    return {match.group(1) for match in _TAG.finditer(source)}


@lru_cache(maxsize=1)
def _check_engine() -> Engine:
    return Engine(autoescape=True, string_if_invalid="")


@lru_cache(maxsize=256)
def _compiled(source: str, engine: Engine) -> Template:
    if _tags(source) - ALLOWED_TAGS:
        # Checked when saved; a source that got past that anyway renders as text.
        return Template("{{ source }}", engine=engine)
    return Template(source, engine=engine)


def authored_values(values: dict, html_engine: Engine, text_engine: Engine) -> dict:
    """``authored_subject``, ``authored_preheader`` and ``authored_body`` rendered from the
    sources in ``values["authored"]``, with ``values`` as their context."""
    authored = values.get(AUTHORED) or {}

    def text(name: str) -> str:
        source = str(authored.get(name) or "")
        return _compiled(source, text_engine).render(Context({**values, "source": source}, autoescape=False))

    body_source = str(authored.get("body") or "")
    body = _compiled(body_source, html_engine).render(Context({**values, "source": body_source}, autoescape=True))
    return {
        "authored_subject": text("subject"),
        "authored_preheader": text("preheader"),
        "authored_body": mark_safe(body),  # rendered with every value escaped
    }
