"""Heavy dependencies load on first use, not at process start.

A container health check (``runwire health``) runs every few seconds, and a
replacement worker resuming runs after a crash should start in as little time
as it can: neither should import the provider SDKs (``anthropic`` ≈ 1.4 s and
``openai`` ≈ 0.5 s of CPU at import) or, for the health check, the app.
Checked in a fresh interpreter, since this test process has imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "anthropic",
    "openai",
    "temporalio",
    "redis",
    "opentelemetry.sdk",
    "runwire_server.app.wiring",
)


def loaded_after(code: str) -> list[str]:
    """Which of ``HEAVY`` a fresh interpreter has imported after running ``code``."""
    report = f"import json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    probe = f"{code}\n{report}"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1])
    return loaded


def test_cli_module_imports_neither_app_nor_sdks() -> None:
    assert loaded_after("import runwire_server.app.cli") == []


def test_registry_imports_a_provider_sdk_only_when_it_is_called() -> None:
    code = """
from runwire_server.service.llm.registry import ProviderRegistry
registry = ProviderRegistry()
violations = registry.validate_options("openai", {"stream_tools": "x"})
assert violations == {"stream_tools": "must be a boolean"}
assert registry.validate_options("anthropic", {}) == {}
registry.get("openai"), registry.get("anthropic")
"""
    assert "openai" not in loaded_after(code)
    assert "anthropic" not in loaded_after(code)
    built = loaded_after(code + "registry.get('openai').built\n")
    assert "openai" in built
    assert "anthropic" not in built


def test_worker_process_module_leaves_provider_sdks_unloaded() -> None:
    loaded = loaded_after("import runwire_server.app.worker_process")
    assert "openai" not in loaded
    assert "anthropic" not in loaded
