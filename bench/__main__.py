"""``python -m bench [--quick]``: runs the benchmarks and prints one table.

Columns: scenario, Runwire figure, floor figure (measured in the same run),
ratio, target. Benchmarks never fail on speed; they fail only if a scenario
breaks.
"""

from __future__ import annotations

import argparse
import logging

from rich.console import Console
from rich.table import Table

from bench import stream_run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="few iterations (CI smoke mode)")
    parser.add_argument("--runs", type=int, default=0, help="runs per scenario (default 300)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    runs = args.runs or (10 if args.quick else 300)
    table = Table(title=f"Runwire benchmarks ({runs} runs per scenario)")
    for column in ("scenario", "runwire", "floor", "ratio", "target"):
        table.add_column(column)
    for row in stream_run.main(runs):
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
