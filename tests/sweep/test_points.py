"""Sweep files: parsing, grid and seeded random points, the content hashes that name compiles."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from compiler.sweep import SweepError, expand, load_sweep
from tests.sweep.conftest import TINY


def points_of(sweep_file, text: str):
    return expand(load_sweep(sweep_file(TINY + text)))


def test_grid_is_the_product_in_axis_order(sweep_file) -> None:
    points = points_of(sweep_file, '[axes]\n"pmu.sram_bytes" = [32768, 65536]\nopt_level = [0, 1]\nseed = [0, 1, 2]\n')
    assert len(points) == 12
    assert [p.values for p in points[:4]] == [
        {"pmu.sram_bytes": 32768, "opt_level": 0, "seed": 0},
        {"pmu.sram_bytes": 32768, "opt_level": 0, "seed": 1},
        {"pmu.sram_bytes": 32768, "opt_level": 0, "seed": 2},
        {"pmu.sram_bytes": 32768, "opt_level": 1, "seed": 0},
    ]
    assert [p.index for p in points] == list(range(12))
    assert len({p.compile_key for p in points}) == 12


def test_no_axes_is_one_point_per_model(sweep_file) -> None:
    (point,) = points_of(sweep_file, "")
    assert point.values == {} and point.chip_name == "small" and point.compile_options["opt_level"] == 1


def test_points_differing_only_in_launch_share_a_compile(sweep_file) -> None:
    a, b = points_of(sweep_file, '[axes]\nlaunch = ["software", "hardware"]\n')
    assert a.compile_key == b.compile_key and a.point_key != b.point_key
    assert (a.sim_options, b.sim_options) == ({"launch": "software"}, {"launch": "hardware"})


def test_keys_are_stable_and_follow_the_model_content(sweep_file, tmp_path) -> None:
    first = points_of(sweep_file, '[axes]\nopt_level = [0]\n')[0]
    again = points_of(sweep_file, '[axes]\nopt_level = [0]\n')[0]
    assert first.compile_key == again.compile_key
    (tmp_path / "tiny_model.py").write_text((tmp_path / "tiny_model.py").read_text() + "\n# edited\n")
    from compiler.sweep import models

    models._file_digest.cache_clear()
    assert points_of(sweep_file, '[axes]\nopt_level = [0]\n')[0].compile_key != first.compile_key


def test_random_sample_is_seeded_and_within_ranges(sweep_file) -> None:
    text = ('[axes]\n"memory.hbm.bytes_per_second" = { min = 1.0e10, max = 1.0e12, log = true }\n'
            '"pmu.sram_bytes" = { min = 16384, max = 131072 }\nopt_level = [0, 1]\n')
    head = TINY.replace('chip = "small"', 'chip = "small"\nsample = "random"\nsamples = 7\nseed = 3')
    one = expand(load_sweep(sweep_file(head + text)))
    two = expand(load_sweep(sweep_file(head + text)))
    assert [p.values for p in one] == [p.values for p in two] and len(one) == 7
    for p in one:
        assert 1e10 <= p.values["memory.hbm.bytes_per_second"] <= 1e12
        assert isinstance(p.values["pmu.sram_bytes"], int) and 16384 <= p.values["pmu.sram_bytes"] <= 131072
    other = expand(load_sweep(sweep_file(head.replace("seed = 3", "seed = 4") + text)))
    assert [p.values for p in other] != [p.values for p in one]


def test_workload_models_need_no_file(sweep_file) -> None:
    spec = load_sweep(sweep_file('[sweep]\nnode = "sn40l-node8"\n[[model]]\nworkload = "llama2-7b"\nphase = "prefill"\n'
                                 'context = 2048\n[axes]\ntp = [1, 8]\n'))
    one, eight = expand(spec)
    assert one.model["tokens"] == 2048 and one.model["name"] == "llama2-7b prefill 2k x1"
    assert (one.tp, eight.tp) == (1, 8) and one.compile_key != eight.compile_key


@pytest.mark.parametrize(("text", "needle"), [
    ('[axes]\n"pmu.sram" = [1]\n', "axis 'pmu.sram' names no field of the chip spec"),
    ('[axes]\n"pmu.sram_bytes" = ["big"]\n', "value 'big' is a string"),
    ('[axes]\nplacer_effort = [1]\n', "axis 'placer_effort' is neither a chip spec field"),
    ('[axes]\nopt_level = ["O1"]\n', "axis opt_level: value 'O1' is a string, but opt_level takes an integer"),
    ('[axes]\nopt_level = [7]\n', "-O7 is not available"),
    ('[axes]\nlaunch = ["eager"]\n', "'eager' is not a launch mode"),
    ('[axes]\nopt_level = []\n', "axis opt_level has no values"),
    ('[axes]\nopt_level = { min = 0, max = 1 }\n', "ranges need sample = \"random\""),
    ('[axes]\nopt_level = 1\n', "axis opt_level must be a list of values"),
    ('[pareto]\ncost = { dollars = 1.0 }\n', "unknown pareto cost term 'dollars'"),
    ('[pareto]\ntime = "latency"\n', "pareto time 'latency' is not a metric"),
    ('[surprise]\nx = 1\n', "unknown table(s) surprise"),
])
def test_bad_sweeps_are_named(sweep_file, text: str, needle: str) -> None:
    with pytest.raises(SweepError) as info:
        expand(load_sweep(sweep_file(TINY + text)))
    assert needle in str(info.value)


@pytest.mark.parametrize(("text", "needle"), [
    ('[sweep]\nchip = "small"\n', "no [[model]] to sweep"),
    ('[sweep]\nsample = "random"\n[[model]]\npath = "tiny_model.py"\n', "a random sweep needs `samples`"),
    ('[sweep]\nmetrics = ["speed"]\n[[model]]\npath = "tiny_model.py"\n', "unknown metric 'speed'"),
    ('[[model]]\npath = "missing.py"\n', "model file missing.py does not exist"),
    ('[[model]]\nworkload = "gpt-9"\n', "unknown workload 'gpt-9'"),
    ('[[model]]\nworkload = "llama2-7b"\nphase = "train"\n', "phase must be one of prefill, decode"),
    ('[[model]]\npath = "tiny_model.py"\nworkload = "llama2-7b"\n', "exactly one of `path`"),
    ('[sweep]\nchip = "tiny.toml"\n[[model]]\npath = "tiny_model.py"\n', "chip spec tiny.toml does not exist"),
    ('[sweep\n', "not valid TOML"),
])
def test_bad_sweep_files_are_named(sweep_file, text: str, needle: str) -> None:
    with pytest.raises(SweepError) as info:
        expand(load_sweep(sweep_file(text)))
    assert needle in str(info.value)


def test_random_sample_of_lists_draws_distinct_grid_points(sweep_file) -> None:
    head = TINY.replace('chip = "small"', 'chip = "small"\nsample = "random"\nsamples = 5')
    axes = '[axes]\nopt_level = [0, 1]\nseed = [0, 1, 2]\n'
    drawn = [p.values for p in expand(load_sweep(sweep_file(head + axes)))]
    grid = [p.values for p in expand(load_sweep(sweep_file(TINY + axes)))]
    assert len(drawn) == 5 and all(d in grid for d in drawn)
    assert len({tuple(d.values()) for d in drawn}) == 5
    with pytest.raises(SweepError, match="samples = 7 but the axes have only 6 distinct points"):
        expand(load_sweep(sweep_file(head.replace("samples = 5", "samples = 7") + axes)))


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).parents[2] / "examples").glob("sweep*.toml")))
def test_example_sweep_files_expand(name: str) -> None:
    """The example files are sweeps as written: every axis and value checked, no work done."""
    path = Path(__file__).parents[2] / "examples" / name
    spec = load_sweep(path)
    assert len(expand(spec)) == len(spec.models) * math.prod(len(values) for values in spec.axes.values())
