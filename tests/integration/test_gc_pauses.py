"""The provider SDKs are loaded before the server freezes its start-up objects.

``RunwireServer.start`` takes what starting made out of the garbage collector's full
passes (``gc.freeze``). The provider SDKs (``openai``, ``anthropic``: some 170,000
objects) used to load later, on a first model call, so every full collection after
it traversed them, with the event loop held, each time. They are imported
before the freeze now (``runwire_server.app.server.WARM_MODULES``).

Measured in a fresh interpreter (this test process has long loaded everything): a
server starts, its providers are built as a first model call builds them, then
allocations that outlive a few collections (as runs and streams make) trigger full
collections, each timed with a ``gc.callbacks`` hook.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

#: The worst full collection allowed after the providers are built, milliseconds
#: (a small fraction of one with the SDKs not frozen).
FULL_COLLECTION_BOUND_MS = 50.0

PROBE = """
import asyncio, gc, json, time
from tests.conftest import server_settings
from tests.support import running_server

async def main():
    settings = server_settings("in_process", redis_url="", temporal_address="")
    async with running_server(settings) as server:
        pauses, started = [], [0.0]
        def timer(phase, info):
            if info["generation"] == 2:
                if phase == "start":
                    started[0] = time.perf_counter()
                else:
                    pauses.append((time.perf_counter() - started[0]) * 1000)
        gc.callbacks.append(timer)
        for name in ("openai", "anthropic"):  # as a first model call of each builds it
            await asyncio.to_thread(lambda: server.app.providers.get(name).built)
        building = len(pauses)
        window = []
        for i in range(400_000):
            window.append({"i": [i]})
            if len(window) >= 30_000:
                window = window[15_000:]
        gc.callbacks.remove(timer)
        import anthropic, openai
        sdk = {id(openai.AsyncOpenAI), id(anthropic.AsyncAnthropic)}
        print(json.dumps({
            "pauses_ms": pauses,
            "while_building": building,
            "sdk_objects_collected": sum(id(o) in sdk for o in gc.get_objects()),
        }))

asyncio.run(main())
"""


def test_full_collections_skip_the_provider_sdks() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found = json.loads(result.stdout.splitlines()[-1])
    assert found["sdk_objects_collected"] == 0, "the SDKs' classes are not frozen"
    assert found["while_building"] == 0, "full collections ran while the providers were built"
    pauses = found["pauses_ms"]
    assert pauses, "the allocations triggered no full collection: nothing was measured"
    assert max(pauses) < FULL_COLLECTION_BOUND_MS, pauses
