"""Repetitions of a scenario folded into one row: the median ratio and its spread.

A scenario run several times gives rows with the same labels. ``combine`` keeps,
for each label, the repetition whose (first) ratio is the median one, for its
Runwire and floor cells, and rewrites the ratio cell: every ratio in it
(``1.53x``; a cell may hold several, ``1.08x | 1.12x``) becomes the median over
the repetitions with the lowest and highest in brackets, ``1.53x [1.49-1.61]``. A
target on the ratio (``≤ 1.5x ✗``) is judged again on the median. Rows without a
ratio are the median repetition's as they are.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

from bench.common import TIMES, Row

#: A ratio in a cell: ``1.53x`` with the multiplication sign (thousands separators allowed).
RATIO = re.compile(r"(\d[\d,]*(?:\.\d+)?)" + TIMES)
#: A target on a ratio: ``≤ 1.5x ✓``, ``≥ 0.7x ✗`` (multiplication signs).
RATIO_TARGET = re.compile(r"^([≤≥]) (\d+(?:\.\d+)?)" + TIMES + r" [✓✗]$")


def ratios(cell: str) -> list[float]:
    """The ratios of ``cell``, in order."""
    return [float(match.replace(",", "")) for match in RATIO.findall(cell)]


def _with_spread(cell: str, columns: Sequence[Sequence[float]]) -> str:
    """``cell`` with its i-th ratio replaced by the median of ``columns[i]`` and its range."""
    position = iter(range(len(columns)))

    def replace(_: re.Match[str]) -> str:
        values = columns[next(position)]
        middle = statistics.median(values)
        return f"{middle:.2f}{TIMES} [{min(values):.2f}-{max(values):.2f}]"

    return RATIO.sub(replace, cell)


def _judged(target: str, ratio: float) -> str:
    match = RATIO_TARGET.match(target)
    if match is None:
        return target
    sign, limit = match[1], float(match[2])
    met = ratio <= limit if sign == "≤" else ratio >= limit
    return f"{sign} {match[2]}{TIMES} {'✓' if met else '✗'}"


def combine(repetitions: Sequence[Sequence[Row]]) -> list[Row]:
    """One row per label of the first repetition's rows (see the module's doc)."""
    if len(repetitions) == 1:
        return list(repetitions[0])
    combined: list[Row] = []
    for row in repetitions[0]:
        same = [r for rows in repetitions for r in rows if r.scenario == row.scenario]
        counts = {len(ratios(r.ratio)) for r in same}
        if len(counts) != 1 or counts == {0}:
            combined.append(same[len(same) // 2])
            continue
        columns = list(zip(*(ratios(r.ratio) for r in same), strict=True))
        first = sorted(same, key=lambda r: ratios(r.ratio)[0])
        median_row = first[len(first) // 2]
        middle = statistics.median(columns[0])
        combined.append(
            Row(
                median_row.scenario,
                median_row.runwire,
                median_row.floor,
                _with_spread(median_row.ratio, columns),
                _judged(median_row.target, middle),
            )
        )
    return combined


__all__ = ["combine", "ratios"]
