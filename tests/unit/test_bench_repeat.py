"""``bench.repeat.combine``: a scenario's repetitions folded into median ratios and ranges."""

from __future__ import annotations

from bench.common import TIMES, Row
from bench.repeat import combine, ratios


def row(label: str, runwire: str, ratio: str, target: str = "—") -> Row:
    return Row(label, runwire, "2 ms", ratio, target)


def test_the_median_repetition_and_the_range_of_each_ratio() -> None:
    repetitions = [
        [row("1 p50", "3.0 ms", f"1.50{TIMES}", f"≤ 1.3{TIMES} ✗"), row("3 kb", "x", "—")],
        [row("1 p50", "2.5 ms", f"1.25{TIMES}", f"≤ 1.3{TIMES} ✓"), row("3 kb", "y", "—")],
        [row("1 p50", "2.8 ms", f"1.40{TIMES}", f"≤ 1.3{TIMES} ✗"), row("3 kb", "z", "—")],
    ]
    first, second = combine(repetitions)
    assert (first.runwire, first.ratio) == ("2.8 ms", f"1.40{TIMES} [1.25-1.50]")
    assert first.target == f"≤ 1.3{TIMES} ✗"  # judged on the median
    assert second.runwire == "y"  # no ratio: the middle repetition's row


def test_every_ratio_of_a_cell_gets_its_own_median() -> None:
    cells = [
        f"1.08{TIMES} | 1.12{TIMES}",
        f"1.00{TIMES} | 1.30{TIMES}",
        f"1.10{TIMES} | 1.20{TIMES}",
    ]
    (combined,) = combine([[row("3 open", "-", cell)] for cell in cells])
    assert combined.ratio == f"1.08{TIMES} [1.00-1.10] | 1.20{TIMES} [1.12-1.30]"
    assert ratios(combined.ratio) == [1.08, 1.2]  # the ranges are not ratios again


def test_a_target_met_by_the_median_is_met() -> None:
    repetitions = [[row("2 events/s", "-", f"{value}{TIMES}", f"≥ 0.75{TIMES} ✗")] for value in (
        "0.70", "0.80", "0.90")]  # fmt: skip
    (combined,) = combine(repetitions)
    assert combined.target == f"≥ 0.75{TIMES} ✓"


def test_one_repetition_is_left_as_it_is() -> None:
    rows = [row("1 p50", "3.0 ms", f"1.50{TIMES}")]
    assert combine([rows]) == rows
