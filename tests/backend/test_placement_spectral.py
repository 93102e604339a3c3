"""The spectral start: the Laplacian's smoothest modes recover a generated netlist's global shape,
the spreading keeps order and fills one site per unit, the turn finds the Manhattan axes, and the
placer runs from it as global_start="spectral" (charged like the analytic start)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend_rdu.placement import PlacementProblem, place
from backend_rdu.placement.analytic import analytic_seconds
from backend_rdu.placement.embedding import SPECTRAL_UNITS, embed
from backend_rdu.placement.generators import generate
from backend_rdu.placement.spectral import _Hpwl, _turn, laplacian, spectral_layout, spread


@pytest.fixture(scope="module")
def multipin():
    bench = generate("multipin", "sn40l", 400, seed=3)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    return bench, problem


def _largest_group(problem):
    # the units of the largest connected group, through the layout's own components
    return max(embed(problem, 0).components, key=len)


def test_the_layout_recovers_the_hidden_axes(multipin):
    bench, problem = multipin
    members = _largest_group(problem)
    hidden = bench.hidden_sites(problem)[members]
    hx, hy = problem.site_x[hidden].astype(float), problem.site_y[hidden].astype(float)
    xy = spectral_layout(problem, members, seed=1)
    corr = np.abs(np.corrcoef(np.column_stack([xy, hx, hy]).T)[:2, 2:])
    # each layout axis follows one hidden axis (in some order): a global shape, not a fold
    assert max(corr[0, 0] * corr[1, 1], corr[0, 1] * corr[1, 0]) > 0.8
    again = spectral_layout(problem, members, seed=1)
    assert np.array_equal(xy, again)


def test_spread_keeps_each_axis_order_and_covers_one_site_per_unit():
    rng = np.random.default_rng(0)
    n = 900
    raw = np.column_stack([np.cos(np.pi * rng.random(n)), np.cos(np.pi * rng.random(n))])  # crowded at the ends
    out = spread(raw, aspect=1.5)
    assert out.shape == (n, 2)
    area = np.ptp(out[:, 0]) * np.ptp(out[:, 1])
    assert 0.9 * n < area < 1.1 * n and abs(np.ptp(out[:, 0]) / np.ptp(out[:, 1]) - 1.5) < 0.1
    for axis in range(2):
        rank_in = np.argsort(np.argsort(raw[:, axis]))
        rank_out = np.argsort(np.argsort(out[:, axis]))
        assert np.corrcoef(rank_in, rank_out)[0, 1] > 0.95
    # near-uniform: every quarter of each axis holds about a quarter of the units
    for axis in range(2):
        counts = np.histogram(out[:, axis], bins=4)[0]
        assert counts.min() > 0.2 * n


def test_the_turn_finds_the_manhattan_axes(multipin):
    bench, problem = multipin
    members = _largest_group(problem)
    hidden = bench.hidden_sites(problem)[members]
    xy = np.column_stack([problem.site_x[hidden], problem.site_y[hidden]]).astype(float)
    hpwl = _Hpwl(problem, members)
    t = np.radians(30.0)
    tilted = (xy - xy.mean(axis=0)) @ np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    assert hpwl(tilted) > 1.2 * hpwl(xy)
    assert hpwl(_turn(hpwl, tilted)) <= 1.01 * hpwl(xy)


def test_the_laplacian_is_symmetric_with_zero_row_sums(multipin):
    _, problem = multipin
    members = _largest_group(problem)
    lap = laplacian(problem, members)
    assert abs(lap - lap.T).max() < 1e-12
    assert np.abs(np.asarray(lap.sum(axis=1))).max() < 1e-9
    assert (lap.diagonal() > 0).all()  # one connected group: every unit is on a net inside it


def test_embed_spectral_leaves_small_groups_to_legalisation(multipin):
    _, problem = multipin
    layout = embed(problem, 2, method="spectral")
    big = [c for c in layout.components if len(c) >= SPECTRAL_UNITS]
    small = [c for c in layout.components if len(c) < SPECTRAL_UNITS]
    assert big and small  # this netlist has both
    columns, rows = problem.site_at.shape
    for members in big:
        xy = layout.coords[members]
        assert not np.isnan(xy).any()
        assert (xy[:, 0] > -1).all() and (xy[:, 0] < columns).all() and (xy[:, 1] > -1).all() and (xy[:, 1] < rows).all()
    assert all(np.isnan(layout.coords[c]).all() for c in small)


def test_the_placer_runs_from_the_spectral_start_and_charges_it(multipin):
    _, problem = multipin
    result = place(problem, seconds=1.0, seed=5, wall_limit=math.inf, global_start="spectral")
    problem.check(result.site_of_unit)
    assert result.stats["phases"][0]["start"] == "spectral+analytic"
    again = place(problem, seconds=1.0, seed=5, wall_limit=math.inf, global_start="spectral")
    assert np.array_equal(again.site_of_unit, result.site_of_unit)
    default = place(problem, seconds=1.0, seed=5, wall_limit=math.inf, global_start="default")
    moves = lambda r: sum(a["moves"] for a in r.stats["anneal"])  # noqa: E731
    assert moves(result) < moves(default)  # the rounds are charged in work
    assert analytic_seconds(problem) > 0
