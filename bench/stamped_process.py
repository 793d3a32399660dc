"""``python -m bench.stamped_process serve|worker``: ``runwire serve`` or ``runwire worker``
with scenario 11's stamped model.

The same commands as ``python -m runwire_server.app serve --listen 127.0.0.1:0`` and
``python -m runwire_server.app worker`` (settings from the ``RUNWIRE_*`` environment, ready
lines ``serving on ADDRESS`` and ``worker polling QUEUE``), with one addition: every provider
registry the process builds also holds ``bench.token_latency.StampedProvider`` under
``bench.token_latency.PROVIDER`` (``ProviderRegistry.register``, as a test double). The
stamped model appends ``SECONDS<TAB>TEXT`` lines to the file named by the ``STAMPS_ENV``
environment variable when each model call ends: ``time.perf_counter()`` seconds at each text
delta's yield (CLOCK_MONOTONIC on Linux, the clock of every process on the machine), so the
benchmark process can match them to the arrival times of its client.

The commands build their registries with ``build_providers`` and take no extra provider: the
name they call is wrapped here (``runwire_server.app.wiring`` for the service and its embedded
worker, ``runwire_server.app.worker_process`` for a worker), before the command runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.token_latency import PROVIDER, STAMPS_ENV, StampedProvider
from runwire_server.app import wiring, worker_process
from runwire_server.app.cli import main as runwire_main
from runwire_server.service.llm.registry import ProviderRegistry
from runwire_server.service.llm.scripted import ScriptedOptions

#: The name the commands build their provider registries with, in both modules.
BUILD_PROVIDERS = "build_providers"

#: The commands, with the ``runwire`` arguments each runs.
COMMANDS = {
    "serve": ["serve", "--listen", "127.0.0.1:0"],
    "worker": ["worker"],
}


def with_stamped(
    build: Callable[..., ProviderRegistry], path: Path
) -> Callable[..., ProviderRegistry]:
    """``build`` (``wiring.build_providers``), its registry also holding a ``StampedProvider``
    that writes to ``path``."""

    def build_with_stamped(*args: Any, **kwargs: Any) -> ProviderRegistry:
        registry = build(*args, **kwargs)
        registry.register(PROVIDER, StampedProvider(path), ScriptedOptions.violations)
        return registry

    return build_with_stamped


def main(argv: list[str]) -> None:
    """Runs ``argv[0]`` (``serve`` or ``worker``); exits with the command's code.

    Raises:
        SystemExit: a usage error (unknown command, ``STAMPS_ENV`` unset), code 2.
    """
    if len(argv) != 1 or argv[0] not in COMMANDS:
        raise SystemExit(f"usage: python -m bench.stamped_process {'|'.join(COMMANDS)}")
    stamps = os.environ.get(STAMPS_ENV, "")
    if not stamps:
        raise SystemExit(f"set {STAMPS_ENV} to the file the stamps are appended to")
    path = Path(stamps)
    for module in (wiring, worker_process):
        setattr(module, BUILD_PROVIDERS, with_stamped(getattr(module, BUILD_PROVIDERS), path))
    runwire_main(COMMANDS[argv[0]])


if __name__ == "__main__":
    main(sys.argv[1:])
