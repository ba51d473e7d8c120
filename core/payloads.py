"""Decoding and checking the JSON bodies the API takes, with msgspec, for every app.

msgspec decodes and validates a JSON body in one pass in C, about twenty times faster than
DRF serializers: that is what lets one request carry 1,000 orders (docs/architecture.md).
Each app declares its bodies as ``Payload`` structs in its ``payloads.py``. Decoding is two
steps, and errors are data in both:
1. msgspec decodes and checks the types, limits and patterns, and stops at the first
   problem. Only then, off the fast path, the body is decoded again to plain JSON values
   and walked field by field (``core.payload_walk``), so that every field's problem is
   found, each under its path, in words for a person (``core.payload_words``);
2. every ``Payload`` checks its values (``Payload.check``) as it is built, each problem
   reported to a ``Problems`` with its field; the path of a nested struct
   (``lines[0].quantity``) is added afterwards. All of them come back at once, with those
   of step 1.

What every body gets here:
- text: no NUL and no lone surrogates, at any depth (``check_text``);
- free-form JSON (an event's payload, a segment rule): ``MAX_JSON_DEPTH`` levels,
  ``MAX_JSON_KEYS`` keys an object, ``MAX_JSON_STRING`` characters a string
  (``check_json``);
- bytes: valid UTF-8 and JSON no deeper than the decoder can follow (``decode``);
- decimals (money): a JSON string only, never a number (``DecimalString``).
"""

import json
import re
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import msgspec

from core.errors import DomainError
from core.payload_walk import Walk
from core.payload_words import MONEY_AS_NUMBER, NOT_MONEY, got, words

# Free-form JSON (an event's payload, a segment rule), kept whole and read back by the admin.
MAX_JSON_DEPTH = 32
MAX_JSON_KEYS = 1000
MAX_JSON_STRING = 10_000


def Text(max_length: int):  # noqa: N802 - reads as a type
    return Annotated[str, msgspec.Meta(max_length=max_length)]


def Pattern(regex: str, *, words: str, description: str, max_length: int | None = None):  # noqa: N802 - a type
    """Text matching ``regex``; ``words`` say what it takes to a person ("a two-letter country
    code such as DE"), as the error message: a regular expression is no message."""
    return Annotated[
        str, msgspec.Meta(pattern=regex, max_length=max_length, description=description, extra={"words": words})
    ]


DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


class DecimalString(Decimal):
    """A decimal sent as a JSON string (``"59.90"``): the type of money fields.

    msgspec reads a plain ``Decimal`` from a JSON number too, but a number has usually been
    a binary float in the sender's hands (``59.900000000000006``), so it is refused with a
    400 naming the field; ``decode_hook`` builds the value, ``schema_hook`` documents it.
    """


def decode_hook(type_: type, obj: Any) -> Any:
    """msgspec's ``dec_hook``: build the custom types of payloads from the decoded JSON.
    Its messages reach the client as they are: words for a person (``core.payload_words``)."""
    if type_ is DecimalString:
        if not isinstance(obj, str):
            number = isinstance(obj, int | float) and not isinstance(obj, bool)
            raise ValueError(MONEY_AS_NUMBER if number else f"{NOT_MONEY[:-1]}, not {got(obj)}.")
        # Digits and one point, as the docs say: not Decimal's wider grammar ("+1", "1_0",
        # "1e1", spaces, other scripts' digits), each of which a sender meant as something else.
        if not DECIMAL_TEXT.fullmatch(obj):
            raise ValueError(NOT_MONEY)
        try:
            value = DecimalString(obj)
        except InvalidOperation:
            raise ValueError(NOT_MONEY) from None
        return DecimalString(obj.lstrip("-")) if value.is_zero() else value  # no "-0.00"
    raise NotImplementedError(type_)


def schema_hook(type_: type) -> dict[str, Any]:
    """msgspec's ``schema_hook``: the JSON schema of the custom types of payloads."""
    if type_ is DecimalString:
        return {"type": "string", "format": "decimal"}
    raise NotImplementedError(type_)


class PayloadError(DomainError):
    """An invalid body: ``errors`` maps each field path to its messages; ``unread`` holds the
    paths whose value could not be read as the field's type at all (the CSV import says those
    in the file's own words)."""

    def __init__(self, errors: dict[str, list[str]], unread: frozenset[str] = frozenset()):
        field, messages = next(iter(errors.items()))
        more = sum(len(m) for m in errors.values()) - 1
        also = f" (and {more} more problem{'s' if more > 1 else ''}: see errors)" if more else ""
        super().__init__(f"Invalid input: {field}: {messages[0]}{also}", field=field)
        self.errors = errors
        self.unread = unread


class Problems:
    """The value problems found in one decoded body, by field path: ``{"lines[0].sku": [...]}``.

    A nested struct's ``Problems`` (``within``) shares the dict and builds its path only
    when a problem is added: most bodies have none, and the walk makes thousands."""

    __slots__ = ("errors", "_parent", "_name", "_index")

    def __init__(self, errors: dict[str, list[str]] | None = None, parent=None, name: str = "", index=None):
        self.errors: dict[str, list[str]] = {} if errors is None else errors
        self._parent: Problems | None = parent
        self._name = name
        self._index: int | None = index

    def add(self, field: str, message: str) -> None:
        """Refuse the value of ``field`` (a path within the struct being checked: ``tags[1]``)."""
        prefix = self.path()
        self.errors.setdefault(f"{prefix}.{field}" if prefix else field, []).append(message)

    def path(self) -> str:
        if self._parent is None:
            return ""
        here = self._name if self._index is None else f"{self._name}[{self._index}]"
        above = self._parent.path()
        return f"{above}.{here}" if above else here

    def within(self, name: str, index: int | None = None) -> "Problems":
        """The problems of the struct at ``name`` (or ``name[index]``), in the same dict."""
        return Problems(self.errors, self, name, index)


# The structs in which ``decode`` or ``convert`` found problems, with them; None outside them.
_found: ContextVar[list[tuple["Payload", dict[str, list[str]]]] | None] = ContextVar("payload_problems", default=None)


class Payload(msgspec.Struct):
    """A body or part of one. ``check`` reports the problems of this struct's own values (every
    text field's NUL and lone surrogates are checked for it); it may also normalise them
    (strip, upper-case, to UTC)."""

    def __post_init__(self) -> None:
        # msgspec calls this as it builds each struct, innermost first, from C: cheaper than a
        # walk in Python over the 5,000 structs of a 1,000-order bulk (5 ms of its 50). A
        # struct's problems are kept with it; their paths are named afterwards, if there are any.
        found = _found.get()
        if found is None:  # built in code, not decoded: trusted
            return
        problems = Problems()
        if _scan_text.get():
            _text_problems(self, problems)
        self.check(problems)
        if problems.errors:
            found.append((self, problems.errors))

    def check(self, problems: Problems) -> None:
        pass


def _problems_by_path(root: Any, found: list[tuple[Payload, dict[str, list[str]]]]) -> dict[str, list[str]]:
    """The problems found, each under its path from ``root`` (``lines[1].unit_price``)."""
    where = {id(struct): errors for struct, errors in found}
    problems = Problems()
    _name_paths(root, problems, where)
    return problems.errors


def _name_paths(obj: Any, problems: Problems, where: dict[int, dict[str, list[str]]]) -> None:
    if not isinstance(obj, Payload):
        return
    for field, messages in where.get(id(obj), {}).items():
        for message in messages:
            problems.add(field, message)
    for name in _nested_fields(type(obj)):
        value = getattr(obj, name)
        if type(value) is list:
            for i, item in enumerate(value):
                _name_paths(item, problems.within(name, i), where)
        else:
            _name_paths(value, problems.within(name), where)


_NESTED: dict[type, tuple[str, ...]] = {}


def _nested_fields(cls: type[Payload]) -> tuple[str, ...]:
    """The fields of ``cls`` that may hold Payloads (a struct, or a list of them)."""
    if cls not in _NESTED:
        info = msgspec.inspect.type_info(cls)
        _NESTED[cls] = tuple(f.name for f in info.fields if _may_hold_payload(f.type))  # type: ignore[attr-defined]
    return _NESTED[cls]


def _may_hold_payload(t: Any) -> bool:
    if isinstance(t, msgspec.inspect.StructType):
        return issubclass(t.cls, Payload)
    if isinstance(t, msgspec.inspect.UnionType):
        return any(_may_hold_payload(member) for member in t.types)
    if isinstance(t, msgspec.inspect.ListType):
        return _may_hold_payload(t.item_type)
    return False


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


def _text_problems(struct: msgspec.Struct, problems: Problems) -> None:
    """Refuse NUL and lone surrogates in the struct's text fields and lists of text (tags).

    Nested structs are checked on their own by the walk; free-form JSON goes through
    ``check_json``."""
    for name in struct.__struct_fields__:
        value = getattr(struct, name)
        if isinstance(value, str):
            if value and (problem := text_problem(value)):
                problems.add(name, problem)
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, str) and (problem := text_problem(item)):
                    problems.add(f"{name}[{i}]", problem)


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


def check_json(problems: Problems, field: str, value: Any, *, path_in_message: bool = False) -> None:
    """Refuse free-form JSON over a limit, naming the place: as the field (``payload.items[3]``),
    or, with ``path_in_message``, in the message of ``field`` (a rule's problems are all
    listed under ``rule``)."""
    if problem := json_problem(value, field):
        where, message = problem
        if path_in_message:
            problems.add(field, f"{message[:-1]} (at {where}).")
        else:
            problems.add(where, message)


def errors_of(exc: msgspec.ValidationError) -> dict[str, list[str]]:
    """msgspec's one-line error as ``{"field.path": [message]}``, in words: what is said when
    the walk (``_every_problem``) finds nothing to add, which it should not."""
    message, sep, path = str(exc).rpartition(" - at `")
    if not sep:
        message, path = str(exc), "$`"
    path = path.rstrip("`")
    field = path[2:] if path.startswith("$.") else path[1:]
    if match := re.match(r"^Object missing required field `(.+)`$", message):
        field = f"{field}.{match[1]}" if field else match[1]
    return {field or "non_field_errors": [words(message)]}


def _build(cls: type, kwargs: dict[str, Any]) -> tuple[Any, dict[str, list[str]]]:
    """The walk's ``build``: the struct from its converted fields, with its own check's
    problems (its nested structs were built, and checked, before it)."""
    found = _found.set([])
    try:
        built = cls(**kwargs)
    except (AttributeError, TypeError, ValueError, ArithmeticError):
        return None, {}  # the check could not read a stand-in: the fields' messages say enough
    else:
        return built, next((errors for struct, errors in _found.get() or () if struct is built), {})
    finally:
        _found.reset(found)


def _every_problem(exc: msgspec.ValidationError, obj: Any, type_: type, *, strict: bool) -> PayloadError:
    """All the problems of a body msgspec refused at its first (``core.payload_walk``)."""
    walk = Walk(_build, strict=strict, dec_hook=decode_hook)
    walk.value(obj, type_, "")
    if not walk.errors:
        return PayloadError(errors_of(exc), frozenset(errors_of(exc)))
    return PayloadError(walk.errors, frozenset(walk.unread))


EMPTY_BODY = "The body is empty: send a JSON object, with a Content-Length header."
_LONE_HIGH_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])")


def _malformed(said: str) -> str:
    """The decoder's reason a body is not JSON, in words: where it stops being JSON."""
    said = said.split(" - at `", 1)[0]
    if said == "Number out of range":
        return "a number is too large to be read."
    if "truncated" in said:
        return "the body ends before the JSON does."
    if match := re.match(r"^JSON is malformed: (.+?)(?: \(byte (\d+)\))?$", said):
        return f"{match[1]} at byte {match[2]}." if match[2] else f"{match[1]}."
    return said


def decode[T](body: bytes, type_: type[T]) -> T:
    """Decode and validate a JSON body, or raise PayloadError naming the field.

    Bytes that cannot be read are errors on ``body`` that say why: malformed JSON, invalid
    UTF-8, or nesting deeper than the decoder follows (it recurses, even over fields it
    skips; free-form fields are held to ``MAX_JSON_DEPTH`` by ``check_json``).
    """
    data = body if isinstance(body, bytes) else bytes(body)  # or a bulk item's msgspec.Raw
    scan = _scan_text.set(b"\\u0000" in data)
    found = _found.set([])
    try:
        if not data.isascii():
            data.decode()  # msgspec checks UTF-8 only in the strings it keeps, not those it skips
        if not data or data.isspace():
            raise PayloadError({"body": [EMPTY_BODY]})
        try:
            decoded = msgspec.json.decode(data, type=type_, dec_hook=decode_hook)
        except msgspec.ValidationError as exc:
            # Off the fast path: read the JSON as plain values and find every problem in it.
            raise _every_problem(exc, msgspec.json.decode(data), type_, strict=True) from exc
        if problems := _found.get():
            raise PayloadError(_problems_by_path(decoded, problems))
        return decoded
    except msgspec.DecodeError as exc:
        said = str(exc)
        if ("truncated" in said or "surrogate" in said) and _LONE_HIGH_SURROGATE.search(data):
            # msgspec reads a high surrogate's escape as the start of a pair and reports the
            # missing half as the end of the input; the caller's mistake is the lone escape.
            raise PayloadError({"body": ["Malformed JSON: a \\uD800-\\uDBFF escape without its pair."]}) from exc
        raise PayloadError({"body": [f"Malformed JSON: {_malformed(said)}"]}) from exc
    except UnicodeDecodeError as exc:
        raise PayloadError({"body": [f"The body is not valid UTF-8: {exc.reason}."]}) from exc
    except RecursionError as exc:
        raise PayloadError({"body": [f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels."]}) from exc
    finally:
        _found.reset(found)
        _scan_text.reset(scan)


def convert[T](obj: Any, type_: type[T]) -> T:
    """Validate already-parsed values (strings from a CSV are coerced), or raise PayloadError."""
    found = _found.set([])
    try:
        converted = msgspec.convert(obj, type=type_, strict=False, dec_hook=decode_hook)
        problems = _found.get()
    except msgspec.ValidationError as exc:
        raise _every_problem(exc, obj, type_, strict=False) from exc
    finally:
        _found.reset(found)
    if problems:
        raise PayloadError(_problems_by_path(converted, problems))
    return converted
