"""``python -m bench.faults [--runs N] [--only FAULT ...] [--lease-seconds S] [--markdown]``.

Runs the fault matrix of ``tests/faults/matrix.py`` (each fault by runtime, on real
processes, a real Redis behind a real Toxiproxy and a real Temporal dev server) and
prints one table: per cell, the outcome of its runs and the sums of events lost,
events duplicated, tool side effects duplicated, tool re-runs, runs stuck and client
errors, the recovery time (median and max over the runs), and whether the design's
promise held. ``--markdown`` prints the table docs/faults.md carries.

``--runs`` (default 3) runs each cell that many times on fresh processes;
``tests/faults/test_matrix.py`` (part of ``make test``) runs each once and asserts
the promises. The exit status is 1 when a promise did not hold.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from tests.faults.matrix import COLUMNS, FAULTS, SHORT_LEASE_SECONDS, Lab, Row, cells, run_cell


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs of each cell (default 3)")
    parser.add_argument(
        "--only",
        nargs="+",
        default=[],
        choices=[fault.name for fault in FAULTS],
        metavar="FAULT",
        help="faults to run (default: all)",
    )
    parser.add_argument(
        "--lease-seconds",
        type=float,
        default=SHORT_LEASE_SECONDS,
        help="in-process run lease where the run's replica dies "
        f"(default {SHORT_LEASE_SECONDS:g}; the service's default is 20)",
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    return parser.parse_args(argv)


async def _matrix(arguments: argparse.Namespace, console: Console) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="runwire-faults-") as scratch:
        directory = Path(scratch)
        async with Lab.open(directory, lease_seconds=arguments.lease_seconds) as lab:
            for fault, runtime in cells(arguments.only):
                row = Row(fault=fault, runtime=runtime, outcomes=[])
                for number in range(arguments.runs):
                    started = time.monotonic()
                    cell = directory / f"{fault.name}-{runtime}-{number}"
                    outcome = await run_cell(lab, fault, runtime, cell)
                    row.outcomes.append(outcome)
                    console.log(
                        f"{fault.name} {runtime} #{number + 1}: {outcome.outcome}, "
                        f"recovery {outcome.recovery_seconds or 0:.1f} s, "
                        f"{time.monotonic() - started:.0f} s"
                        + (f"; {outcome.notes}" if outcome.notes else "")
                    )
                rows.append(row)
    return rows


def _markdown(rows: list[Row]) -> str:
    header = [name for name, _ in COLUMNS]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(" --- " for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(cell(row) for _, cell in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs the matrix and prints the table; 1 when a promise did not hold."""
    arguments = _arguments(argv)
    logging.basicConfig(level=logging.WARNING)
    console = Console(stderr=True)
    rows = asyncio.run(_matrix(arguments, console))
    if arguments.markdown:
        print(_markdown(rows))
    else:
        table = Table(box=box.SIMPLE_HEAD, title=f"fault matrix, {arguments.runs} run(s) per cell")
        for name, _ in COLUMNS:
            table.add_column(name)
        for row in rows:
            table.add_row(*(cell(row) for _, cell in COLUMNS))
        Console().print(table)
    return 0 if all(row.kept() for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
