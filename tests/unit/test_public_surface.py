"""What each package exports, and the pinned names of the extension points.

Every package of ``runwire_server.service``, ``.worker`` and ``.app`` states its exports in
``__all__`` (names it re-exports, or its public modules). The extension points a
deployment codes against — tool registration and the model-provider protocol —
are pinned here, so a change to them is a deliberate one. The Python client's
names are pinned in ``tests/clients/test_python_client.py``.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from runwire_server import app, service, worker

PINNED = {
    "runwire_server.service.tools": [
        "TOOL_NAME_PATTERN",
        "Tool",
        "ToolOutcome",
        "ToolRegistry",
        "load_modules",
        "register_builtin_tools",
    ],
    "runwire_server.service.llm": [
        "ModelChunk",
        "ModelError",
        "ModelProvider",
        "ModelRequest",
        "ProviderRegistry",
        "TextDelta",
        "ToolCallDelta",
        "UsageReport",
    ],
}


def packages() -> list[str]:
    names = [app.__name__, worker.__name__]
    names += [
        info.name
        for info in pkgutil.iter_modules(service.__path__, f"{service.__name__}.")
        if info.ispkg
    ]
    return names


def test_the_layers_are_all_packages() -> None:
    assert sorted(packages()) == [
        "runwire_server.app",
        "runwire_server.service.agent",
        "runwire_server.service.api",
        "runwire_server.service.auth",
        "runwire_server.service.core",
        "runwire_server.service.http",
        "runwire_server.service.llm",
        "runwire_server.service.runtimes",
        "runwire_server.service.stores",
        "runwire_server.service.tools",
        "runwire_server.worker",
    ]


@pytest.mark.parametrize("name", packages())
def test_every_package_states_its_exports(name: str) -> None:
    package = importlib.import_module(name)
    exported = package.__all__
    assert exported, f"{name}.__all__ is empty"
    for attribute in exported:
        if not hasattr(package, attribute):
            importlib.import_module(f"{name}.{attribute}")  # a public module


@pytest.mark.parametrize("name", sorted(PINNED))
def test_extension_points_are_pinned(name: str) -> None:
    assert importlib.import_module(name).__all__ == PINNED[name]
