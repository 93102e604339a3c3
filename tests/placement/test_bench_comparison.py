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


def test_ten_seeds_decide_a_row_that_loses_a_few_pairs():
    # the placer is shorter on 8 of 10 seeds and its runs mostly rank below the baseline's
    placer = [400, 402, 405, 407, 410, 412, 415, 418, 422, 424]
    baseline = [420, 425, 428, 430, 433, 436, 438, 441, 404, 409]
    c = compare_over_seeds(placer, baseline)
    assert c["seeds"] == 10 and c["verdict"] == "placer"
    assert c["p_placer_shorter"] <= 0.05 < c["p_baseline_shorter"]


def test_rank_sum_p_values_are_exact_and_count_ties_half():
    from bench.placement import rank_sum_p_values

    # three against three, fully separated: 1 of the 20 equally likely splits
    assert rank_sum_p_values([1, 2, 3], [4, 5, 6]) == (1 / 20, 1.0)
    # a tie across the groups: either 4 completes the smallest sum, so 2 of the 20 splits reach it
    assert rank_sum_p_values([1, 2, 4], [4, 5, 6]) == (2 / 20, 1.0)
    # identical results on every seed decide nothing
    assert compare_over_seeds([43] * 10, [43] * 10)["verdict"] == "within spread"


def test_compiler_kernels_get_ten_seeds_by_default(monkeypatch):
    import bench.placement as bench

    seen = {}
    monkeypatch.setattr(bench, "run_examples", lambda chip, seconds, seed, seeds, *rest: seen.update(seed=seed, seeds=seeds) or [])
    bench.main(["--sizes", "", "--seed", "3", "--cycles", "", "--json"])
    assert seen == {"seed": 3, "seeds": bench.EXAMPLE_SEEDS} and bench.EXAMPLE_SEEDS >= 10
    bench.main(["--sizes", "", "--seed", "3", "--example-seeds", "4", "--cycles", "", "--json"])
    assert seen["seeds"] == 4
