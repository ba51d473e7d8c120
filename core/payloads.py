"""Decoding and checking the JSON bodies the API takes, with msgspec, for every app.

msgspec decodes and validates a JSON body in one pass in C, about twenty times faster than
DRF serializers: that is what lets one request carry 1,000 orders (docs/architecture.md).
Each app declares its bodies as msgspec structs in its ``payloads.py`` and checks values
in ``__post_init__`` with the helpers here.

Errors come back as ``{"field.path": ["message"]}``: msgspec names the path
(``lines[0].quantity``); checks in ``__post_init__`` name their field through ``fail``.
What every body gets here:
- text: no NUL and no lone surrogates, at any depth (``check_text``);
- free-form JSON (an event's payload, a segment rule): ``MAX_JSON_DEPTH`` levels,
  ``MAX_JSON_KEYS`` keys an object, ``MAX_JSON_STRING`` characters a string
  (``check_json``);
- bytes: valid UTF-8 and JSON no deeper than the decoder can follow (``decode``).
"""

import json
import re
from contextvars import ContextVar
from typing import Annotated, Any

import msgspec

from core.errors import DomainError

# Free-form JSON (an event's payload, a segment rule), kept whole and read back by the admin.
MAX_JSON_DEPTH = 32
MAX_JSON_KEYS = 1000
MAX_JSON_STRING = 10_000


def Text(max_length: int):  # noqa: N802 - reads as a type
    return Annotated[str, msgspec.Meta(max_length=max_length)]


class PayloadError(DomainError):
    """An invalid body: ``errors`` maps each field path to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        field, messages = next(iter(errors.items()))
        super().__init__(f"Invalid input: {field}: {messages[0]}", field=field)
        self.errors = errors


def fail(field: str, message: str):
    """Refuse the value of ``field`` (a path within the struct: ``tags[1]``)."""
    # Control characters around the field keep it apart from any text msgspec's own messages hold.
    raise ValueError(f"\x1f{field}\x1f{message}")


def text_problem(value: str) -> str | None:
    """What PostgreSQL cannot store in a text column: NUL, and lone surrogates (from a CSV)."""
    if "\x00" in value:
        return "Must not contain NUL characters."
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            return "Must be valid Unicode text."
    return None


# False while ``decode`` reads a body in which no string can hold NUL or a lone surrogate:
# JSON carries NUL only as the escape \u0000 (msgspec refuses raw control characters), and
# msgspec refuses lone surrogates and invalid UTF-8. One scan of the bytes in C then spares
# a Python loop over every field of every struct (a fifth of a bulk request's decoding).
_scan_text: ContextVar[bool] = ContextVar("scan_text", default=True)


def check_text(struct: msgspec.Struct) -> None:
    """Refuse NUL and lone surrogates in the struct's text fields and lists of text (tags).

    Nested structs check their own fields in their ``__post_init__``; free-form JSON goes
    through ``check_json``."""
    if not _scan_text.get():
        return
    for name in struct.__struct_fields__:
        value = getattr(struct, name)
        if isinstance(value, str):
            if value and (problem := text_problem(value)):
                fail(name, problem)
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, str) and (problem := text_problem(item)):
                    fail(f"{name}[{i}]", problem)


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def json_problem(value: Any, path: str, depth: int = 1) -> tuple[str, str] | None:
    """The first place where free-form JSON breaks a limit, as (path, message), or None."""
    if isinstance(value, str):
        if len(value) > MAX_JSON_STRING:
            return path, f"A text is longer than {MAX_JSON_STRING} characters."
        problem = text_problem(value)
        return (path, problem) if problem else None
    if isinstance(value, dict | list):
        if depth > MAX_JSON_DEPTH:
            return path, f"Nested deeper than {MAX_JSON_DEPTH} levels."
        if isinstance(value, list):
            items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
        else:
            if len(value) > MAX_JSON_KEYS:
                return path, f"An object has more than {MAX_JSON_KEYS} keys."
            for key in value:
                if len(key) > MAX_JSON_STRING:
                    return path, f"A key is longer than {MAX_JSON_STRING} characters."
                if problem := text_problem(key):
                    return path, f"A key: {problem}"
            items = (
                (f"{path}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{path}[{json.dumps(key[:40])}]", item)
                for key, item in value.items()
            )
        for item_path, item in items:
            if found := json_problem(item, item_path, depth + 1):
                return found
    return None


def check_json(field: str, value: Any, *, path_in_message: bool = False) -> None:
    """Refuse free-form JSON over a limit, naming the place: as the field (``payload.items[3]``),
    or, with ``path_in_message``, in the message of ``field`` (a rule's problems are all
    listed under ``rule``)."""
    if problem := json_problem(value, field):
        where, message = problem
        fail(field, f"{where}: {message}") if path_in_message else fail(where, message)


_MISSING = re.compile(r"^Object missing required field `(.+)`$")


# Raised by fail, not msgspec, whose own messages may quote the sender's text.
_OWN_FAILURE = re.compile(r"^\x1f([^\x1f]*)\x1f(.*)$", re.DOTALL)


def errors_of(exc: msgspec.ValidationError) -> dict[str, list[str]]:
    """msgspec's one-line error as ``{"field.path": [message]}``."""
    message, sep, path = str(exc).rpartition(" - at `")
    if not sep:
        message, path = str(exc), "$`"
    path = path.rstrip("`")
    field = path[2:] if path.startswith("$.") else path[1:]
    if match := _MISSING.match(message):
        field, message = (f"{field}.{match[1]}" if field else match[1]), "This field is required."
    elif match := _OWN_FAILURE.match(message):
        name, message = match[1], match[2]
        field = f"{field}.{name}" if field else name
    return {field or "non_field_errors": [message]}


_LONE_HIGH_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])")


def decode[T](body: bytes, type_: type[T]) -> T:
    """Decode and validate a JSON body, or raise PayloadError naming the field.

    Bytes that cannot be read are errors on ``body`` that say why: malformed JSON, invalid
    UTF-8, or nesting deeper than the decoder follows (it recurses, even over fields it
    skips; free-form fields are held to ``MAX_JSON_DEPTH`` by ``check_json``).
    """
    data = body if isinstance(body, bytes) else bytes(body)  # or a bulk item's msgspec.Raw
    scan = _scan_text.set(b"\\u0000" in data)
    try:
        if not data.isascii():
            data.decode()  # msgspec checks UTF-8 only in the strings it keeps, not those it skips
        return msgspec.json.decode(data or b"null", type=type_)
    except msgspec.ValidationError as exc:
        raise PayloadError(errors_of(exc)) from exc
    except msgspec.DecodeError as exc:
        if str(exc).endswith("truncated") and _LONE_HIGH_SURROGATE.search(data):
            # msgspec reads a high surrogate's escape as the start of a pair and reports the
            # missing half as the end of the input; the caller's mistake is the lone escape.
            raise PayloadError({"body": ["Malformed JSON: a \\uD800-\\uDBFF escape without its pair."]}) from exc
        raise PayloadError({"body": [f"Malformed JSON: {exc}"]}) from exc
    except UnicodeDecodeError as exc:
        raise PayloadError({"body": [f"The body is not valid UTF-8: {exc.reason}."]}) from exc
    except RecursionError as exc:
        raise PayloadError({"body": [f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels."]}) from exc
    finally:
        _scan_text.reset(scan)


def convert[T](obj: Any, type_: type[T]) -> T:
    """Validate already-parsed values (strings from a CSV are coerced), or raise PayloadError."""
    try:
        return msgspec.convert(obj, type=type_, strict=False)
    except msgspec.ValidationError as exc:
        raise PayloadError(errors_of(exc)) from exc
