"""Every problem of a refused body, each under its path: the walk behind ``core.payloads``.

msgspec stops at the first problem. When it has found one, the body, decoded again to plain
JSON values, is walked against its struct type: each field's value is converted on its own
by msgspec (so the rules are the fast path's own), nested structs and lists item by item,
and each problem is said in words (``core.payload_words``) under its path
(``customer.email``, ``lines[2].quantity``). Each struct whose fields could be read is built,
so its ``check`` runs too; where a field could not be read, the check sees the value as
sent if it is of the field's plain type (text too long), else a stand-in (the default, or
an empty value), and what it says about that field is dropped: the field has its message
already.

Only refused bodies are walked: the hot path is untouched.
"""

import types
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec

from core.payload_words import REQUIRED, expected, got, words

# build(cls, kwargs) -> (the struct, the problems its check found by field), or (None, {})
# when the check could not run on the stand-ins.
Build = Callable[[type, dict[str, Any]], tuple[Any, dict[str, list[str]]]]

_NONE = type(None)
_FIELDS: dict[type, tuple[msgspec.structs.FieldInfo, ...]] = {}


def _fields(cls: type) -> tuple[msgspec.structs.FieldInfo, ...]:
    if cls not in _FIELDS:
        _FIELDS[cls] = msgspec.structs.fields(cls)
    return _FIELDS[cls]


def _unwrap(type_: Any) -> tuple[Any, list[msgspec.Meta]]:
    """``Annotated[str, Meta(...)]`` as ``(str, [Meta(...)])``."""
    metas: list[msgspec.Meta] = []
    while get_origin(type_) is Annotated:
        base, *extra = get_args(type_)
        metas.extend(m for m in extra if isinstance(m, msgspec.Meta))
        type_ = base
    return type_, metas


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _stand_in(type_: Any) -> Any:
    """A value of the field's type for a struct's check to read where the sent one could not
    be: what the check then says about that field is dropped."""
    base, _ = _unwrap(type_)
    origin = get_origin(base)
    if origin is Literal:
        return get_args(base)[0]
    if origin is list:
        return []
    if origin is dict:
        return {}
    if isinstance(base, type):
        for kind, value in ((bool, False), (int, 0), (float, 0.0), (str, "")):
            if issubclass(base, kind):
                return value
        if issubclass(base, Decimal):
            return base("0")
    return None


def _kept_as_sent(sent: Any, type_: Any) -> bool:
    """Whether a refused value is of its field's plain type (text too long, a number out of
    range), so that the struct's check may read it as sent."""
    base, _ = _unwrap(type_)
    if get_origin(base) in (Union, types.UnionType):
        members = [m for m in get_args(base) if m not in (_NONE, msgspec.UnsetType)]
        base = _unwrap(members[0])[0] if len(members) == 1 else None
    if base is str:
        return isinstance(sent, str)
    if base is int:
        return isinstance(sent, int) and not isinstance(sent, bool)
    return False


class Walk:
    """One walk over a refused body: ``errors`` by path, ``unread`` the paths whose values
    could not be read as their type."""

    def __init__(self, build: Build, *, strict: bool, dec_hook: Callable[[type, Any], Any]):
        self.build, self.strict, self.dec_hook = build, strict, dec_hook
        self.errors: dict[str, list[str]] = {}
        self.unread: set[str] = set()

    def add(self, path: str, message: str, *, unread: bool = True) -> None:
        key = path or "non_field_errors"
        self.errors.setdefault(key, []).append(message)
        if unread:
            self.unread.add(key)

    def value(self, value: Any, type_: Any, path: str) -> tuple[bool, Any]:
        """``(True, the converted value)``, or ``(False, None)`` with its problems added."""
        base, metas = _unwrap(type_)
        if isinstance(base, type) and issubclass(base, msgspec.Struct):
            return self.struct(value, base, path)
        if base is msgspec.Raw:  # a bulk item, decoded on its own later
            return True, value
        origin = get_origin(base)
        if origin in (Union, types.UnionType):
            members = get_args(base)
            if value is None and _NONE in members:
                return True, None
            rest = [m for m in members if m not in (_NONE, msgspec.UnsetType)]
            if len(rest) == 1:
                return self.value(value, rest[0], path)
        elif origin is list:
            return self.list(value, base, metas, path)
        return self.leaf(value, type_, base, metas, path)

    def leaf(self, value: Any, type_: Any, base: Any, metas: list[msgspec.Meta], path: str) -> tuple[bool, Any]:
        try:
            return True, msgspec.convert(value, type_, strict=self.strict, dec_hook=self.dec_hook)
        except msgspec.ValidationError as exc:
            self.add(path, words(str(exc), base, metas, value))
            return False, None

    def list(self, value: Any, base: Any, metas: list[msgspec.Meta], path: str) -> tuple[bool, Any]:
        if not isinstance(value, list):
            self.add(path, f"Must be {expected(base, metas)}, not {got(value)}.")
            return False, None
        if metas:  # the length: msgspec's own check, on the list alone
            try:
                msgspec.convert(value, Annotated[list[Any], *metas])
            except msgspec.ValidationError as exc:
                self.add(path, words(str(exc), base, metas, value))
                return False, None
        (item_type,) = get_args(base) or (Any,)
        items = [self.value(item, item_type, f"{path}[{i}]") for i, item in enumerate(value)]
        if all(ok for ok, _ in items):
            return True, [item for _, item in items]
        return False, None

    def struct(self, value: Any, cls: type, path: str) -> tuple[bool, Any]:
        if not isinstance(value, dict):
            self.add(path, f"Must be an object, not {got(value)}.")
            return False, None
        kwargs: dict[str, Any] = {}
        unread: list[str] = []
        for field in _fields(cls):
            where = _join(path, field.encode_name)
            if field.encode_name in value:
                ok, converted = self.value(value[field.encode_name], field.type, where)
            else:
                ok, converted = not field.required, msgspec.NODEFAULT
                if field.required:
                    self.add(where, REQUIRED)
            if not ok:
                unread.append(field.encode_name)
                sent = value.get(field.encode_name, msgspec.NODEFAULT)
                if _kept_as_sent(sent, field.type):
                    kwargs[field.name] = sent  # too long, or out of range: the check sees it was sent
                elif field.required:
                    kwargs[field.name] = _stand_in(field.type)
            elif converted is not msgspec.NODEFAULT:
                kwargs[field.name] = converted
        built, problems = self.build(cls, kwargs)
        for where_in, messages in problems.items():
            if any(where_in == name or where_in.startswith((f"{name}.", f"{name}[")) for name in unread):
                continue
            for message in messages:
                self.add(_join(path, where_in), message, unread=False)
        return (not unread and built is not None), built
