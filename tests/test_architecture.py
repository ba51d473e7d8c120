"""The direction of imports between the packages (docs/architecture.md, "Layout"):

    core  ←  customers  ←  messaging  ←  loyalty, support, campaigns  ←  crm  ←  config

- ``core`` (the shared plumbing) imports no app;
- ``customers`` imports no other app;
- ``messaging`` (the email channel) imports only ``customers`` and ``core``;
- no app imports ``crm`` (the top: API, 360 page, pipeline, scheduler);
- no module imports one that imports it back, directly or through others, counting imports
  inside functions (only ``if TYPE_CHECKING:`` blocks are left out);
- no module imports another app's private name (one starting with ``_``).

Read from the source with ``ast``: nothing is imported to run these checks. Tests and
migrations are left out (tests reach everywhere; migrations are history).
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "customers", "messaging", "loyalty", "support", "campaigns", "crm", "config")
APPS = ("customers", "messaging", "loyalty", "support", "campaigns")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "tests" in parts or "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(name: str) -> Iterator[tuple[str, str | None]]:
    """(module imported, name imported from it or None) for each import in ``name``."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), str(path))
    skipped = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule, None) if submodule in MODULES else (base, alias.name)


def _edges() -> dict[str, set[str]]:
    return {name: {target for target, _ in _imports(name) if target in MODULES and target != name} for name in MODULES}


def _top(module: str) -> str:
    return module.split(".")[0]


def test_core_imports_no_app_and_customers_no_other_app():
    wrong = []
    for name in MODULES:
        allowed = {"core"} if _top(name) == "core" else {"core", "customers"} if _top(name) == "customers" else None
        if allowed is None:
            continue
        wrong += [f"{name} imports {t}" for t, _ in _imports(name) if _top(t) in PACKAGES and _top(t) not in allowed]
    assert wrong == []


def test_messaging_imports_only_customers_and_core():
    """The email channel sits below the apps that send through it (support, campaigns)."""
    wrong = [
        f"{name} imports {target}"
        for name in MODULES
        if _top(name) == "messaging"
        for target, _ in _imports(name)
        if _top(target) in PACKAGES and _top(target) not in ("messaging", "customers", "core")
    ]
    assert wrong == []
    assert "customers.models" in _edges()["messaging.models"]


def test_no_app_imports_crm():
    wrong = [
        f"{name} imports {target}"
        for name in MODULES
        if _top(name) in (*APPS, "core")
        for target, _ in _imports(name)
        if _top(target) == "crm"
    ]
    assert wrong == []


def test_no_module_imports_another_apps_private_name():
    wrong = [
        f"{name} imports {target}.{imported}"
        for name in MODULES
        for target, imported in _imports(name)
        if _top(target) in PACKAGES and _top(target) != _top(name)
        if (imported or "").startswith("_") or any(part.startswith("_") for part in target.split("."))
    ]
    assert wrong == []


def test_no_import_cycles():
    edges = _edges()
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                cycles.append(" → ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for name in sorted(MODULES):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_checks_see_the_imports():
    """The checks above would pass on an empty graph: make sure they read the real one."""
    edges = _edges()
    assert "core.transactions" in edges["customers.services.orders"]
    assert "customers.models" in edges["loyalty.earning"]
    assert len(MODULES) > 100


API_DOMAINS = ("commerce", "loyalty", "recommendations", "segments", "support")


def _api_domain(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if parts[:2] == ["crm", "api"] and len(parts) > 2 and parts[2] in API_DOMAINS else None


def test_api_domains_share_only_payloads_and_the_shared_api_reads_no_domain():
    """``crm/api``: a domain package (commerce, loyalty, …) may use another's payloads (a
    body nesting a customer), nothing else of it; the cross-cutting modules (auth, errors,
    …) use no domain, except the url table and the schema's list of payload structs."""
    wrong = []
    for name in MODULES:
        if name.split(".")[:2] != ["crm", "api"]:
            continue
        own = _api_domain(name)
        for target, _ in _imports(name):
            other = _api_domain(target)
            if other is None or other == own:
                continue
            if own is None and name not in ("crm.api.urls", "crm.api.schema"):
                wrong.append(f"{name} imports {target}")
            elif own is not None and not target.endswith(".payloads"):
                wrong.append(f"{name} imports {target}")
    assert wrong == []
    assert "crm.api.commerce.payloads" in _edges()["crm.api.support.payloads"]
