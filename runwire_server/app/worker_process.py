"""A standalone worker process: ``runwire worker`` / ``python -m runwire_server.app worker``.

Needs Temporal (``RUNWIRE_TEMPORAL_ADDRESS``) and Redis (``RUNWIRE_REDIS_URL``, its
password in the URL or in ``RUNWIRE_REDIS_PASSWORD_FILE``): the service and its workers
share events, runs and threads through Redis.
Stops gracefully on SIGINT/SIGTERM: running activities get
``drain_timeout_seconds`` to finish (then they are cancelled and retried on
another worker); workflows resume on other workers.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

from runwire_server.app.config import Settings
from runwire_server.app.temporal_client import connect_temporal
from runwire_server.app.wiring import build_providers, build_stores, build_tools, build_worker
from runwire_server.service.core.errors import InvalidArgumentError
from runwire_server.service.tools.mcp import pool_of

logger = logging.getLogger(__name__)


async def run_worker(settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    """Polls the task queue until SIGINT/SIGTERM.

    Raises:
        InvalidArgumentError: Temporal or Redis is not configured, or Redis refuses the
            credentials (``runwire_server.app.wiring.build_stores``).
        UnavailableError: Temporal cannot be reached.
    """
    if not settings.temporal_address:
        raise InvalidArgumentError(
            "a worker needs Temporal: set RUNWIRE_TEMPORAL_ADDRESS (host:port)"
        )
    if not settings.redis_url:
        raise InvalidArgumentError(
            "a separate worker needs RUNWIRE_REDIS_URL: the service and its workers share "
            "runs, events and threads through Redis"
        )
    stores = build_stores(settings)
    client = await connect_temporal(settings, claims=stores.claims)
    providers = build_providers(settings, max_retries=0)
    tools = build_tools(settings)
    pool = pool_of(tools)
    if pool is not None:
        # Connect the MCP servers now: one that is down shows in this worker's log at once.
        await pool.start()
    worker = build_worker(client, settings, stores=stores, providers=providers, tools=tools)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    task = asyncio.create_task(worker.run())
    logger.info(
        "worker polling task queue %s on %s (namespace %s)",
        settings.temporal_task_queue,
        settings.temporal_address,
        settings.temporal_namespace,
    )
    print(f"worker polling {settings.temporal_task_queue}", flush=True)
    if ready is not None:
        ready.set()
    try:
        done, _ = await asyncio.wait(
            {task, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED
        )
        if task not in done:
            # A bound on a stuck shutdown: the activities' drain, as long again and 30 s.
            limit = timedelta(seconds=30 + 2 * settings.drain_timeout_seconds)
            await asyncio.wait_for(worker.shutdown(), timeout=limit.total_seconds())
        await task
    finally:
        await tools.aclose()  # stops the stdio MCP servers' processes
        await providers.aclose()
        await stores.aclose()
