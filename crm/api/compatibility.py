"""The compatibility promise of /api/v1/, checked: the schema may grow, but what clients rely on
may go or change only with an entry in the API's changelog naming it.

``docs/openapi-v1.yaml`` is a snapshot of the published schema. ``breaking_changes`` compares
the schema the code makes now with it and lists, by name, everything a client of the
snapshot could have relied on that is gone or changed:
- an operation (``POST /api/v1/orders``) or a parameter (``GET /api/v1/customers parameter
  page_size``) removed; a parameter that became required;
- a schema component (``OrderOut``) or a field of one (``OrderOut.total_base``, nested:
  ``LoyaltyOut.progress.needed``) removed or renamed; a request field that refuses a type it
  took (``string`` to ``number``), or a response field that may hold one it did not (``null``
  too); a request field that became required;
- an enum value removed (``OrderStatusEnum: refunded``, ``OrderIn.status: refunded``).

Each is allowed once ``docs/api-changelog.md`` names it in backticks (`` `OrderOut.total_base` ``;
an operation's path, or a component, covers what is under it). Additions are never breaking:
they only make the snapshot out of date, and ``manage.py api_schema --write`` (``make
schema``) refreshes it, refusing while a breaking change is not in the changelog.

The snapshot is written, and compared, without the integer bounds that model fields take from the database
(PostgreSQL's smallint is 32767, SQLite has none): they differ between the two and are not
part of the promise.
"""

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

SNAPSHOT = Path(settings.BASE_DIR) / "docs" / "openapi-v1.yaml"
CHANGELOG = Path(settings.BASE_DIR) / "docs" / "api-changelog.md"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# The bounds of database integer columns, which drf-spectacular reads from the connection.
DATABASE_BOUNDS = {32767, 2147483647, 9223372036854775807, -32768, -2147483648, -9223372036854775808}


def current_schema() -> dict:
    """The schema /api/v1/schema/ serves, made in-process."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiYamlRenderer

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return yaml.safe_load(OpenApiYamlRenderer().render(schema, renderer_context={}))  # plain types, as the file


def read_snapshot(path: Path = SNAPSHOT) -> dict:
    return yaml.safe_load(path.read_text()) if path.exists() else {}


def write_snapshot(schema: dict, path: Path = SNAPSHOT) -> None:
    from drf_spectacular.renderers import OpenApiYamlRenderer

    path.write_bytes(OpenApiYamlRenderer().render(comparable(schema), renderer_context={}))


def comparable(schema: dict) -> dict:
    """``schema`` without what depends on the database it was made with."""
    schema = copy.deepcopy(schema)

    def strip(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "integer" or "integer" in (node.get("type") or []):
                for bound in ("maximum", "minimum"):
                    if node.get(bound) in DATABASE_BOUNDS:
                        del node[bound]
                if node.get("format") in ("int32", "int64"):
                    del node["format"]
            for value in node.values():
                strip(value)
        elif isinstance(node, list):
            for item in node:
                strip(item)

    strip(schema)
    return schema


@dataclass(frozen=True)
class Change:
    name: str  # what the changelog must name
    what: str  # what happened, for the message

    def __str__(self) -> str:
        return f"`{self.name}`: {self.what}"


def _alternatives(node: dict) -> frozenset[str]:
    """The types a field may hold, as a client reads them: JSON types (a string with its
    format), arrays by their items, components by name; ``null`` among them if it may be."""
    if "$ref" in node:
        return frozenset({node["$ref"].rsplit("/", 1)[1]})
    members = node.get("anyOf") or node.get("oneOf")
    if members:
        return frozenset().union(*(_alternatives(member) for member in members))
    kinds = node.get("type", "any")
    found = set()
    for kind in kinds if isinstance(kinds, list) else [kinds]:
        if kind == "array":
            kind = f"array of {_type_of(node.get('items', {}))}"
        elif node.get("format") and kind == "string":
            kind = f"string:{node['format']}"
        found.add(kind)
    return frozenset(found)


def _type_of(node: dict) -> str:
    return " | ".join(sorted(_alternatives(node)))


def _type_breaks(old: dict, new: dict, *, sent: bool, received: bool) -> bool:
    """Whether a field's new type breaks a client: one that sends it, if a value it sent
    before is refused now (the types narrowed); one that receives it, if a value may come
    that it was not told of (the types widened, null included)."""
    before, after = _alternatives(old), _alternatives(new)
    return (sent and not before <= after) or (received and not after <= before)


def _enum_values(node: dict) -> set:
    values = set(node.get("enum", []))
    for member in node.get("anyOf", []) + node.get("oneOf", []):
        values |= set(member.get("enum", []))
    if node.get("type") == "array" or "items" in node:
        values |= _enum_values(node.get("items", {}))
    return values


def _fields(name: str, node: dict) -> Iterator[tuple[str, dict, bool]]:
    """(``Component.field.sub``, its schema, required) for every field of a component,
    nested inline objects and arrays of them included."""
    required = set(node.get("required", []))
    for field, prop in node.get("properties", {}).items():
        path = f"{name}.{field}"
        yield path, prop, field in required
        for inner in (prop, prop.get("items", {})):
            if "properties" in inner:
                yield from _fields(path, inner)


def _components_under(schema: dict, part: str) -> set[str]:
    """The components an operation's ``part`` (``requestBody`` or ``responses``) names,
    directly or nested: a field newly required in a request breaks the clients that send the
    old body; a type that widens breaks those that receive it."""
    components = schema.get("components", {}).get("schemas", {})
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in found:
                    found.add(name)
                    walk(components.get(name, {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if method in METHODS:
                walk(operation.get(part, {}))
    return found


def _operations(schema: dict) -> dict[str, dict]:
    return {
        f"{method.upper()} {path}": operation
        for path, item in schema.get("paths", {}).items()
        for method, operation in item.items()
        if method in METHODS
    }


def breaking_changes(old: dict, new: dict) -> list[Change]:
    """What a client of ``old`` relied on that ``new`` removed or changed."""
    changes: list[Change] = []
    old_ops, new_ops = _operations(old), _operations(new)
    for op_name, operation in old_ops.items():
        if op_name not in new_ops:
            changes.append(Change(op_name, "operation removed"))
            continue
        new_params = {(p["in"], p["name"]): p for p in new_ops[op_name].get("parameters", [])}
        for param in operation.get("parameters", []):
            name = f"{op_name} parameter {param['name']}"
            now = new_params.get((param["in"], param["name"]))
            if now is None:
                changes.append(Change(name, "parameter removed"))
            elif now.get("required") and not param.get("required"):
                changes.append(Change(name, "parameter now required"))
        for param in new_ops[op_name].get("parameters", []):
            known = any((p["in"], p["name"]) == (param["in"], param["name"]) for p in operation.get("parameters", []))
            if param.get("required") and not known:
                changes.append(Change(f"{op_name} parameter {param['name']}", "new required parameter"))

    old_components = old.get("components", {}).get("schemas", {})
    new_components = new.get("components", {}).get("schemas", {})
    requests = _components_under(new, "requestBody")
    responses = _components_under(new, "responses")
    for component, node in old_components.items():
        if component not in new_components:
            changes.append(Change(component, "schema component removed or renamed"))
            continue
        now = new_components[component]
        removed = _enum_values(node) - _enum_values(now)
        changes += [Change(f"{component}: {value}", "enum value removed") for value in sorted(removed, key=str)]
        if component in responses:
            changes += _enum_added(component, node, now)
        new_fields = {path: (prop, required) for path, prop, required in _fields(component, now)}
        old_fields = {path: (prop, required) for path, prop, required in _fields(component, node)}
        for path, (prop, required) in old_fields.items():
            if path not in new_fields:
                changes.append(Change(path, "field removed or renamed"))
                continue
            new_prop, new_required = new_fields[path]
            sent, received = component in requests, component in responses or component not in requests
            if _type_breaks(prop, new_prop, sent=sent, received=received):
                changes.append(Change(path, f"type changed from {_type_of(prop)} to {_type_of(new_prop)}"))
            removed = _enum_values(prop) - _enum_values(new_prop)
            changes += [Change(f"{path}: {value}", "enum value removed") for value in sorted(removed, key=str)]
            if received and component in responses:
                changes += _enum_added(path, prop, new_prop)
            if component in requests and new_required and not required:
                changes.append(Change(path, "request field now required"))
        if component in requests:
            for path, (_, required) in new_fields.items():
                if required and path not in old_fields:
                    changes.append(Change(path, "new required request field"))
    return changes


def _enum_added(name: str, old: dict, new: dict) -> list[Change]:
    """A value a response's enum gained. Within v1 that is allowed, but a client generated
    with strict enums (openapi-python-client's) fails on a value it does not know: the
    changelog announces each one, so that clients are regenerated."""
    if not _enum_values(old):  # a field that was not an enum before: nothing a client parsed strictly
        return []
    added = _enum_values(new) - _enum_values(old)
    return [Change(f"{name}: {value}", "enum value added to a response") for value in sorted(added, key=str)]


def _names(change: Change) -> set[str]:
    """The names that cover ``change`` in the changelog: its own, and those of what holds it
    (``OrderOut`` and ``OrderOut.lines`` for ``OrderOut.lines.sku``; the field for one of its
    enum values; the operation and its path for a parameter)."""
    name = change.name
    names = {name}
    head, _, _ = name.partition(": ")  # an enum value's field or component
    if " /" in head:  # an operation, or a parameter of one
        operation = head.split(" parameter ")[0]
        names |= {operation, operation.split(" ", 1)[1]}
    else:
        parts = head.split(".")
        names |= {".".join(parts[: i + 1]) for i in range(len(parts))}
    return names


def _covered(change: Change, logged: str) -> bool:
    return any(f"`{name}`" in logged for name in _names(change))


def entries(changelog: str) -> str:
    """The changelog's entries: from its first dated heading (``## 2026-12-04``) on. The
    introduction's examples of how to name things excuse nothing."""
    _, heading, rest = changelog.partition("\n## ")
    return heading + rest


def unlogged(changes: list[Change], changelog: str) -> list[Change]:
    logged = entries(changelog)
    return [change for change in changes if not _covered(change, logged)]


@dataclass
class Report:
    unlogged: list[Change]
    stale: bool

    @property
    def ok(self) -> bool:
        return not self.unlogged and not self.stale

    def message(self) -> str:
        lines = []
        if self.unlogged:
            lines.append(
                "The API schema loses or changes what /api/v1/ clients rely on, or adds a value to a "
                "response's enum, with no entry in docs/api-changelog.md naming it (in backticks):"
            )
            lines += [f"  - {change}" for change in self.unlogged]
            lines.append(
                "Keep it, or add a changelog entry naming each (see docs/api.md, Versioning), then `make schema`."
            )
        if self.stale:
            lines.append("docs/openapi-v1.yaml is not the current schema: run `make schema` and commit it.")
        return "\n".join(lines)


def check(
    new: dict | None = None, snapshot: Path = SNAPSHOT, changelog: Path = CHANGELOG, old: dict | None = None
) -> Report:
    new = comparable(current_schema() if new is None else new)
    old = comparable(read_snapshot(snapshot) if old is None else old)
    logged = changelog.read_text() if changelog.exists() else ""
    return Report(unlogged=unlogged(breaking_changes(old, new), logged), stale=old != new)
