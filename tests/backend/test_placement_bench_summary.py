"""bench.placement ends its compiler-kernel table with issue 11's test in one line: on how many
kernels the placer's median is at most plain annealing's, and how the rank-sum verdicts fall."""

from __future__ import annotations

import bench.placement as bench
from bench.placement import compare_over_seeds, examples_summary


def _row(name: str, placer: list[float], baseline: list[float]) -> dict:
    comparison = compare_over_seeds(placer, baseline)
    return {"example": name, "units": 10, "lower_bound": 1, "placer": {"median": comparison["placer_median"]},
            "annealing_baseline": {"median": comparison["baseline_median"]},
            "placer_at_most_baseline": comparison["placer_median"] <= comparison["baseline_median"],
            "comparison": comparison}


ROWS = [
    _row("won", [500, 510, 520], [530, 540, 600]),  # every run shorter: a placer verdict
    _row("tied", [43, 43, 43], [43, 43, 43]),  # equal medians count as at most
    _row("lost", [600, 610, 700], [500, 590, 599]),  # every baseline run shorter: a baseline verdict
]


def test_summary_counts_medians_at_most_and_verdicts():
    summary = examples_summary(ROWS)
    assert (summary["placer_at_most_baseline"], summary["kernels"]) == (2, 3)
    assert (summary["verdict_placer"], summary["verdict_baseline"]) == (1, 1)
    assert summary["losses"] == ["lost"]
    assert summary["line"] == ("placer <= baseline on 2 of 3 kernels (medians; verdicts: 1 placer, 1 baseline, "
                               "1 within spread)")


def test_bench_prints_the_summary_line_and_puts_it_in_the_json(monkeypatch, capsys):
    import json

    monkeypatch.setattr(bench, "run_examples", lambda *args, **kwargs: ROWS)
    assert bench.main(["--sizes", "", "--cycles", "", "--seed", "0", "--example-seconds", "1"]) == 0
    out, err = capsys.readouterr()
    line = "placer <= baseline on 2 of 3 kernels"
    assert line in out.splitlines()[-1] and line in err
    assert bench.main(["--json", "--sizes", "", "--cycles", "", "--seed", "0", "--example-seconds", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["examples_summary"]["line"].startswith(line)


def test_no_compiler_kernels_no_summary(capsys):
    import json

    assert bench.main(["--json", "--sizes", "", "--cycles", "", "--seed", "0", "--example-seconds", "0"]) == 0
    assert "examples_summary" not in json.loads(capsys.readouterr().out)
