"""bench.placement's per-kernel comparison says whether the seeds decide it, not only the medians."""

from __future__ import annotations

from bench.placement import compare_over_seeds


def test_every_placer_run_shorter_is_a_placer_verdict():
    c = compare_over_seeds([500, 510, 520], [530, 540, 600])
    assert c["verdict"] == "placer" and c["placer_shorter_on_seeds"] == 3 and c["seeds"] == 3
    assert (c["placer_median"], c["baseline_median"]) == (510, 540)


def test_every_baseline_run_shorter_is_a_baseline_verdict():
    assert compare_over_seeds([600, 610, 700], [500, 590, 599])["verdict"] == "baseline"


def test_overlapping_runs_are_within_spread_even_when_the_medians_differ():
    # llama at 10 s (docs/placement.md): placer 585, 539, 536 against 468, 519, 556
    c = compare_over_seeds([585, 539, 536], [468, 519, 556])
    assert c["placer_median"] > c["baseline_median"]
    assert c["verdict"] == "within spread" and c["placer_shorter_on_seeds"] == 1
