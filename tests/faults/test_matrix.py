"""The fault matrix as a test suite: every cell once, the design's promises asserted.

Each fault by runtime of ``tests/faults/matrix.py`` runs once on real processes, a
real Redis (append-only file, behind a real Toxiproxy) and a real Temporal dev
server (on a database file). Asserted per cell: the promised outcome (SUCCEEDED,
or FAILED ``REPLICA_LOST`` where an in-process run's own replica died), no event
lost or duplicated, no tool side effect twice, no run stuck, no client error
other than UNAVAILABLE, the scripted answer and effects intact; and that the
client saw the run go on after the fault (the recovery time is printed with
``pytest -s`` and only bounded against a hang). ``python -m bench.faults`` runs
the same cells, several times each, and prints the table of docs/faults.md.
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator

import pytest

from tests.faults.matrix import Fault, Lab, cells, promised_outcome, run_cell

#: Fault-to-next-event above this is a hang (the lease, a process start and the
#: backoff of a busy machine all fit well inside it).
NO_HANG_SECONDS = 60.0


@pytest.fixture(scope="module")
async def lab(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Lab]:
    """Redis (append-only file) behind Toxiproxy, and a Temporal dev server on a file."""
    async with Lab.open(tmp_path_factory.mktemp("faults")) as lab:
        yield lab


@pytest.mark.parametrize(
    ("fault", "runtime"),
    [pytest.param(fault, runtime, id=f"{fault.name}-{runtime}") for fault, runtime in cells()],
)
async def test_fault(lab: Lab, fault: Fault, runtime: str, tmp_path: pathlib.Path) -> None:
    outcome = await run_cell(lab, fault, runtime, tmp_path / "cell")
    print(f"{fault.name} {runtime}: {outcome}")
    assert outcome.outcome == promised_outcome(fault, runtime), outcome
    counts = {
        "lost": outcome.lost,
        "duplicated": outcome.duplicated,
        "tool_effects_duplicated": outcome.tool_effects_duplicated,
        "stuck": outcome.stuck,
        "client_errors": outcome.client_errors,
    }
    assert counts == dict.fromkeys(counts, 0), outcome
    assert not outcome.notes, outcome
    assert outcome.recovery_seconds is not None, f"nothing was logged after the fault: {outcome}"
    assert outcome.recovery_seconds < NO_HANG_SECONDS, outcome
