"""The packages' imports point one way (docs/architecture.md, "Layers").

Packages are named here without their ``runwire_server.`` prefix. Layers, lowest first:
``service.core``; ``service.auth``, ``service.llm``,
``service.tools``, ``service.stores``; ``service.agent``; ``service.runtimes``; ``service.api``;
``service.http`` and ``worker``; ``app`` (the composition). A module may import its own package and
lower layers only, counting imports inside functions too.
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
#: The server's import root: ``runwire_server.service``, ``runwire_server.worker``, ...
SERVER = ROOT / "runwire_server"
PREFIX = "runwire_server."

#: Each package's layer; a package imports only packages of a lower layer (or itself).
LAYERS = {
    "service.core": 0,
    "service.auth": 1,
    "service.llm": 1,
    "service.tools": 1,
    "service.stores": 1,
    "service.agent": 2,
    "service.runtimes": 3,
    "service.api": 4,
    "service.http": 5,
    "worker": 5,
    "app": 6,
}


def package_of(module: str) -> str | None:
    """The layered package a dotted module name belongs to (None: not ours)."""
    if not module.startswith(PREFIX):
        return None
    parts = module.removeprefix(PREFIX).split(".")
    if parts[0] == "service" and len(parts) > 1:
        name = ".".join(parts[:2])
        return name if name in LAYERS else "service"
    return parts[0] if parts[0] in LAYERS else ("service" if parts[0] == "service" else None)


def imports_of(path: pathlib.Path) -> set[str]:
    """Every absolute module name ``path`` imports (top level and inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def edges() -> dict[str, dict[str, str]]:
    """package -> imported package -> one module that imports it (for the message)."""
    graph: dict[str, dict[str, str]] = {}
    for top in ("service", "worker", "app"):
        for path in sorted((SERVER / top).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            source = package_of(module)
            assert source is not None
            for name in imports_of(path):
                target = package_of(name)
                if target is not None and target != source:
                    graph.setdefault(source, {}).setdefault(target, module)
    return graph


def test_every_module_belongs_to_a_layer() -> None:
    loose = [
        str(path.relative_to(ROOT))
        for path in (SERVER / "service").glob("*.py")
        if path.name != "__init__.py"
    ]
    assert loose == [], "modules of runwire_server/service/ belong in one of its packages"


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{module} ({source}) imports {target}"
        for source, targets in edges().items()
        for target, module in targets.items()
        if target == "service" or LAYERS.get(target, 0) >= LAYERS[source]
    ]
    assert upward == []


def test_service_never_imports_the_worker_or_the_composition() -> None:
    graph = edges()
    offending = [
        f"{module} imports {target}"
        for source, targets in graph.items()
        if source.startswith("service")
        for target, module in targets.items()
        if target in ("worker", "app")
    ]
    assert offending == []
