"""Sweeps that start from a node: node fields and the node's chip fields as axes, `tp` compiled
through rdu-shard and timed by the node simulator, and per-point failures of a tp the model or the
node cannot take."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.sweep import SweepError, expand, load_sweep, run_sweep
from compiler.sweep.worker import evaluate
from compiler.tasks.backends import LocalBackend
from tests.sweep.conftest import NODE, TINY

LINKS = '"network.link_bytes_per_second" = [1.0e9, 1.0e10]\n'


def points_of(sweep_file, text: str):
    return expand(load_sweep(sweep_file(NODE + text)))


def test_node_chip_and_option_axes_are_routed(sweep_file) -> None:
    (p,) = points_of(sweep_file, '[axes]\n"network.link_bytes_per_second" = [2.0e10]\nsockets = [4]\n'
                                 '"chip.pmu.sram_bytes" = [32768]\ntp = [2]\nopt_level = [0]\n')
    assert p.tp == 2 and p.compile_options["opt_level"] == 0
    assert "link_bytes_per_second = 20000000000.0" in p.node_text and "sockets = 4" in p.node_text
    assert f'chip = "../chips/{p.chip_digest}.toml"' in p.node_text
    assert "sram_bytes = 32768" in p.chip_text and p.chip_name.startswith("small-")
    assert p.node_name.startswith("small-node8-")


def test_compile_key_names_node_and_tp(sweep_file) -> None:
    one_slow, one_fast, two_slow, two_fast = points_of(sweep_file, f'[axes]\ntp = [1, 2]\n{LINKS}')
    # a tp = 2 program depends on the node's network: one compile per link bandwidth
    assert two_slow.compile_key != two_fast.compile_key
    # tp = 1 is one socket's program: it compiles for the chip, whatever the links
    assert one_slow.compile_key == one_fast.compile_key != two_slow.compile_key
    assert one_slow.point_key == one_fast.point_key
    # the node's chip fields reach the key too
    a, b = points_of(sweep_file, '[axes]\ntp = [2]\n"chip.pmu.sram_bytes" = [32768, 65536]\n')
    assert a.compile_key != b.compile_key and a.node_digest != b.node_digest


def test_tp_points_run_on_the_node_and_bad_tp_fails_only_its_point(sweep_file, tmp_path: Path) -> None:
    spec = load_sweep(sweep_file(NODE + f'[axes]\ntp = [1, 2, 4, 16]\n{LINKS}'))
    records = run_sweep(spec, tmp_path / "cache", backend=LocalBackend(evaluate)).records
    by = {(r["tp"], r["network.link_bytes_per_second"]): r for r in records}
    one, slow, fast = by[1, 1e9], by[2, 1e9], by[2, 1e10]
    assert [r["status"] for r in (one, by[1, 1e10], slow, fast)] == ["ok"] * 4
    assert (one["sockets"], one["collective_cycles"]) == (1, 0)
    assert (slow["sockets"], fast["sockets"]) == (2, 2)
    assert slow["collective_cycles"] > fast["collective_cycles"] > 0  # the links time the all-reduce
    assert slow["cycles"] > fast["cycles"]
    assert 0 < slow["socket_hbm_bytes"] < one["socket_hbm_bytes"]  # each socket holds its part of the weights
    for r in (one, slow, fast):
        assert r["tokens_per_second"] == pytest.approx(8 / r["seconds"])
    for link in (1e9, 1e10):
        heads, sockets = by[4, link], by[16, link]
        assert heads["status"] == "failed" and "tp=4 does not divide the 2 heads" in heads["error"]
        assert sockets["status"] == "failed" and "tp=16 needs 16 sockets, but node small-node8" in sockets["error"]
        assert "\n" not in heads["error"] + sockets["error"]


def test_sockets_axis_bounds_tp(sweep_file, tmp_path: Path) -> None:
    spec = load_sweep(sweep_file(NODE + '[axes]\nsockets = [1, 2]\ntp = [2]\n'
                                        '[pareto]\ncost = { sockets = 1.0, link_bytes_per_second = 1.0e-9 }\n'))
    few, enough = run_sweep(spec, tmp_path / "cache", backend=LocalBackend(evaluate)).records
    assert few["status"] == "failed" and "tp=2 needs 2 sockets" in few["error"]
    assert enough["status"] == "ok" and enough["cost"] == pytest.approx(2 + 10.0)  # 2 sockets + 10 GB/s links


@pytest.mark.parametrize(("text", "needle"), [
    ('[axes]\n"network.link_bw" = [1.0e9]\n', "axis 'network.link_bw' names no field of the node spec; fields are: "
                                              "sockets, ddr_to_hbm_bytes_per_second, network.topology"),
    ('[axes]\n"pmu.sram_bytes" = [32768]\n', "(the chip's pmu.sram_bytes is chip.pmu.sram_bytes under a node)"),
    ('[axes]\nclock_hz = [1.0e9]\n', "(the chip's clock_hz is chip.clock_hz under a node)"),
    ('[axes]\n"chip.pmu.sram" = [1]\n', "axis 'chip.pmu.sram' names no field of the chip spec; fields are: chip.name"),
    ('[axes]\n"chip.pmu.sram_bytes" = [1.5]\n', "axis chip.pmu.sram_bytes: value 1.5 is a number, but the chip spec's "
                                                "chip.pmu.sram_bytes is an integer"),
    ('[axes]\nsockets = [2.5]\n', "axis sockets: value 2.5 is a number, but the node spec's sockets is an integer (e.g. 8)"),
    ('[axes]\n"network.link_bytes_per_second" = ["fast"]\n', "value 'fast' is a string, but the node spec's"),
    ('[axes]\n"network.topology" = ["mesh"]\n', "node with network.topology = 'mesh' is not valid: unknown network topology 'mesh'"),
    ('[axes]\nsockets = [0]\n', "node with sockets = 0 is not valid: sockets must be positive"),
    ('[axes]\nchip = ["sn40l"]\n', "axis 'chip' is neither a node spec field"),
    ('[axes]\ntp = [0]\n', "axis tp: 0 is not a positive number of sockets"),
    ('[axes]\ntp = ["two"]\n', "axis tp: value 'two' is a string, but tp takes an integer"),
])
def test_bad_node_axes_are_named(sweep_file, text: str, needle: str) -> None:
    with pytest.raises(SweepError) as info:
        points_of(sweep_file, text)
    assert needle in str(info.value)


@pytest.mark.parametrize(("text", "needle"), [
    (NODE.replace('node = "small-node8"', 'node = "small-node8"\nchip = "small"'), "names a chip and a node; give one"),
    (NODE.replace("small-node8", "tiny-node3"), "unknown node 'tiny-node3': choose one of small-node8"),
    (NODE.replace('"small-node8"', '"mine.toml"'), "node spec mine.toml does not exist"),
    (NODE.replace('"small-node8"', "8"), "node must be a node name or a .toml path, got 8"),
    (TINY + '[axes]\ntp = [2]\n', "axis tp: tp=2 runs over the sockets of a node"),
    (TINY + '[axes]\n"network.link_bytes_per_second" = [1.0e9]\n', "axis 'network.link_bytes_per_second' is a node's field"),
    (TINY + '[axes]\nsockets = [2]\n', "axis 'sockets' is a node's field: start the sweep from a node"),
    (TINY + '[pareto]\ncost = { link_bytes_per_second = 1.0 }\n', "pareto cost term link_bytes_per_second is a node's figure"),
])
def test_bad_node_sweeps_are_named(sweep_file, text: str, needle: str) -> None:
    with pytest.raises(SweepError) as info:
        expand(load_sweep(sweep_file(text)))
    assert needle in str(info.value)


def test_a_node_file_beside_the_sweep(sweep_file, tmp_path: Path) -> None:
    """A node file of the user's, naming a chip file of the user's by a relative path."""
    from chip_model.node import NODE_DIR
    from chip_model.spec import SPEC_DIR

    (tmp_path / "my_chip.toml").write_text((SPEC_DIR / "small.toml").read_text().replace('name = "small"', 'name = "mine"'))
    (tmp_path / "my_node.toml").write_text((NODE_DIR / "small-node8.toml").read_text()
                                           .replace('chip = "small"', 'chip = "my_chip.toml"'))
    spec = load_sweep(sweep_file(NODE.replace('"small-node8"', '"my_node.toml"') + '[axes]\ntp = [2]\n'))
    (record,) = run_sweep(spec, tmp_path / "cache", backend=LocalBackend(evaluate)).records
    assert record["status"] == "ok", record["error"]
    assert record["sockets"] == 2 and record["collective_cycles"] > 0


@pytest.mark.slow
def test_decode_workload_at_tp8_on_sn40l_node8(sweep_file, tmp_path: Path) -> None:
    """A bench decode (one Llama-2-7B layer, 512-token cache) split over 8 SN40L sockets: one token
    per forward, each socket holding an eighth of the layer's weights."""
    spec = load_sweep(sweep_file('[sweep]\nnode = "sn40l-node8"\n[[model]]\nworkload = "llama2-7b"\nphase = "decode"\n'
                                 'context = 512\n[axes]\ntp = [8]\n'))
    (r,) = run_sweep(spec, tmp_path / "cache", backend=LocalBackend(evaluate)).records
    assert r["status"] == "ok", r["error"]
    assert r["sockets"] == 8 and r["collective_cycles"] > 0
    assert r["tokens_per_second"] == pytest.approx(1 / r["seconds"])
    layer_weights = (4 * 4096 * 4096 + 3 * 4096 * 11008) * 2  # bf16 attention + MLP
    assert layer_weights / 8 < r["socket_hbm_bytes"] < layer_weights / 4


def test_the_driver_names_a_node_chip_by_its_file_unless_bundled(tmp_path: Path) -> None:
    """CompileOptions.target_chip (the hook a sweep's node needs): a bundled chip by name, any other
    chip file by its path, so `rdu-target` loads the chip the node was built with."""
    from chip_model.node import NODE_DIR
    from chip_model.spec import SPEC_DIR
    from compiler.driver import CompileOptions

    assert CompileOptions(node="small-node8", tp=2).pipeline().startswith("rdu-target{chip=small},rdu-shard{tp=2 node=small-node8}")
    (tmp_path / "my_chip.toml").write_text((SPEC_DIR / "small.toml").read_text().replace('name = "small"', 'name = "mine"'))
    node = tmp_path / "my_node.toml"
    node.write_text((NODE_DIR / "small-node8.toml").read_text().replace('chip = "small"', 'chip = "my_chip.toml"'))
    assert CompileOptions(node=str(node), tp=2).target_chip() == str(tmp_path / "my_chip.toml")
