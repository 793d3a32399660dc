"""A task cancelled while it waits on a Redis command is cancelled.

Cancelling a run (CancelRun), ending streams on a drain and stopping the
server all cancel tasks that may be inside a redis-py command. redis-py
8.0 to 8.2 swallowed such a cancellation (the command finished and the
task went on), which left cancelled runs running; pyproject.toml keeps
redis-py below 8 and this test guards any upgrade.
"""

from __future__ import annotations

import asyncio

import redis.asyncio as redis


async def test_a_cancelled_task_stops_during_redis_commands(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    key = f"{redis_prefix}:cancel"
    finished_anyway = 0
    cancelled = 0
    for attempt in range(100):

        async def work() -> str:
            for _ in range(200):
                await redis_client.set(key, "v")
            return "done"

        task = asyncio.create_task(work())
        # Let it get into the loop of commands, at varying points.
        for _ in range(1 + attempt % 7):
            await asyncio.sleep(0)
        await asyncio.sleep(0.0005 * (attempt % 3))
        if task.done():
            continue
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            cancelled += 1
        else:
            finished_anyway += 1
    assert cancelled > 0
    assert finished_anyway == 0
    # The client still answers correctly afterwards (no mixed-up replies).
    await redis_client.set(key, "after")
    assert await redis_client.get(key) == b"after"
