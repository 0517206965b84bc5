"""The layers of the code, read from its imports (``ast``, nothing is imported): which folder may
import which (docs/architecture.md, Layers), no import cycle, and no module that only re-exports."""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The project's own top-level names, as ruff's isort knows them.
FIRST_PARTY = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]["isort"][
    "known-first-party"
]

#: What runs the service from above: no folder of the service imports it.
_ON_TOP = {"worker", "scripts", "bench", "tests"}
#: Folder -> the project folders it must never import (anywhere in a module, functions included).
FORBIDDEN = {
    "domain": {"activities", "api", "core", "store", "wiring", "workflows", *_ON_TOP},
    "core": {"activities", "api", "store", "wiring", "workflows", *_ON_TOP},
    "store": {"activities", "api", "wiring", "workflows", *_ON_TOP},
    "activities": {"api", "wiring", "workflows", *_ON_TOP},
    "workflows": {"api", "wiring", *_ON_TOP},
    "api": {"activities", *_ON_TOP},
    "wiring": {"api", *_ON_TOP},
}
#: Outside libraries a folder must not import.
FORBIDDEN_LIBRARIES = {"domain": {"temporalio", "sqlalchemy", "fastapi"}}
#: The settings are a leaf: of the project they read only the policies the domain declares, whose
#: fields they are made of (the durations are declared once, in domain/).
SETTINGS_MAY_IMPORT = {"domain.types", "domain.ticket", "domain.dispute", "domain.care"}


@dataclass
class Module:
    """One project module and what it imports."""

    name: str
    path: Path
    tree: ast.Module
    #: Every project module it imports, wherever the import statement is (type checking aside).
    imports: set[str] = field(default_factory=set)
    #: Top-level names of outside libraries it imports.
    libraries: set[str] = field(default_factory=set)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_files() -> list[Path]:
    files = [ROOT / f"{name}.py" for name in FIRST_PARTY if (ROOT / f"{name}.py").is_file()]
    for package in FIRST_PARTY:
        files.extend(sorted((ROOT / package).rglob("*.py")))
    return files


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST, found: list[ast.Import | ast.ImportFrom]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            found.append(child)
        elif not (isinstance(child, ast.If) and _type_checking(child)):
            _imports(child, found)


def load() -> dict[str, Module]:
    modules = {
        module_name(path): Module(module_name(path), path, ast.parse(path.read_text(), str(path)))
        for path in project_files()
    }
    roots = {name.split(".")[0] for name in modules}
    for module in modules.values():
        found: list[ast.Import | ast.ImportFrom] = []
        _imports(module.tree, found)
        for statement in found:
            targets: list[str] = []
            if isinstance(statement, ast.Import):
                targets = [alias.name for alias in statement.names]
            else:
                base = statement.module or ""
                if statement.level:  # relative: resolve against the importing module's package
                    package = module.name.split(".")
                    if module.path.name != "__init__.py":
                        package.pop()
                    package = package[: len(package) - statement.level + 1]
                    base = ".".join([*package, base] if base else package)
                # ``from package import module`` imports the module; ``from module import name`` the module.
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in statement.names
                ]
            for target in targets:
                if target.split(".")[0] not in roots:
                    module.libraries.add(target.split(".")[0])
                    continue
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != module.name:
                    module.imports.add(target)
    return modules


MODULES = load()


def folder(name: str) -> str:
    return name.split(".")[0]


def test_the_project_is_read() -> None:
    # The checks below see every layer and the imports between them.
    assert {"domain.types", "store.outbox", "api.main", "wiring.temporal", "worker"} <= MODULES.keys()
    assert "store.db" in MODULES["store.outbox"].imports
    assert "wiring.temporal" in MODULES["worker"].imports
    assert "store.migrate" in MODULES["store.db"].imports


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_only_what_lies_below_it(layer: str) -> None:
    wrong = sorted(
        f"{module.name} imports {target}"
        for module in MODULES.values()
        if folder(module.name) == layer
        for target in module.imports
        if folder(target) in FORBIDDEN[layer]
    )
    assert not wrong, "\n".join(wrong)


def test_the_domain_is_pure() -> None:
    wrong = sorted(
        f"{module.name} imports {library}"
        for module in MODULES.values()
        for layer, libraries in FORBIDDEN_LIBRARIES.items()
        if folder(module.name) == layer
        for library in module.libraries & libraries
    )
    assert not wrong, "\n".join(wrong)


def test_the_settings_are_a_leaf() -> None:
    settings = MODULES["core.settings"]
    assert settings.imports <= SETTINGS_MAY_IMPORT, sorted(settings.imports - SETTINGS_MAY_IMPORT)
    # ... and what they read of the domain reaches nothing but the domain.
    seen, todo = set(), list(settings.imports)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(MODULES[name].imports)
    assert {folder(name) for name in seen} <= {"domain"}, sorted(seen)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycle() -> None:
    # Imports inside functions count too: a lazy import hides a cycle, it does not remove it.
    found = cycles({module.name: module.imports for module in MODULES.values()})
    assert not found, found


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_only_re_exports_another() -> None:
    def only_imports(module: Module) -> bool:
        body = [
            node
            for node in module.tree.body
            if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))  # docstring
            and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
        ]
        return bool(body) and all(isinstance(node, ast.Import | ast.ImportFrom) for node in body)

    wrong = sorted(module.name for module in MODULES.values() if only_imports(module))
    assert not wrong, f"modules that only import (use the real module instead): {wrong}"
