"""A node program end to end: compiled with --node/--tp, written with its NODE section, simulated
on every socket (values equal PyTorch, collectives on the peer links in time), inspected per
socket; bad node arguments fail with one line and write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import bitstream_format
from bitstream_format.node_program import peer_traffic, shard_part
from chip_model.node import load_node
from compiler.cli import main
from compiler.driver import CompileOptions, compile_model
from compiler.run_model import run_compiled
from functional_sim.collective import collective_cycles, collective_values
from functional_sim.node import simulate_node

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture(scope="module")
def mlp_tp4():
    return compile_model(EXAMPLES / "mlp.py", CompileOptions(node="small-node8", tp=4))


def test_run_report_adds_sockets_collectives_and_hbm(mlp_tp4) -> None:
    report = run_compiled(mlp_tp4).to_json()
    assert report["allclose"] is True and report["chip"] == "small"
    assert report["sockets"] == 4 and report["node"] == "small-node8"
    assert report["socket_outputs_agree"] is True
    assert report["collective_stages"] == 1 and 0 < report["collective_cycles"] < report["cycles"]
    assert len(report["socket_hbm_bytes"]) == 4 and report["socket_hbm_bytes"][0] > 0


def test_node_section_round_trips_and_gives_each_socket_its_part(mlp_tp4) -> None:
    bs = bitstream_format.decode(mlp_tp4.data)
    node = bs.node
    assert (node.node, node.sockets) == ("small-node8", 4)
    assert bs.manifest["format_version"] == ".".join(map(str, bitstream_format.VERSION)) and bs.manifest["sockets"] == 4
    fc1 = next(s for s in node.shards if bs.tensor(s.tensor).name == "fc1.weight")
    assert (fc1.dim, fc1.parts, fc1.whole_shape) == (0, 4, (128, 64))
    whole = np.frombuffer(node.wholes[fc1.tensor], np.float32).reshape(128, 64)
    dtypes = {t.id: t.dtype for t in bs.tensors}
    for s in range(4):
        image = node.socket_image(bs.image, dtypes, s)
        np.testing.assert_array_equal(np.frombuffer(image[fc1.tensor], np.float32).reshape(32, 64), whole[32 * s:32 * (s + 1)])
    (peer,) = node.peer_streams
    assert peer.collective == "all_reduce" and peer.algorithm == "tree"  # 512 bytes on a ring: latency-bound
    assert (peer.bytes_per_socket, peer.steps) == (2 * (8 * 16 * 4), 2)  # recursive doubling: log2(4) whole sends


def test_blocked_part_takes_its_slice_of_every_block() -> None:
    whole = np.arange(12).reshape(12, 1)  # 3 blocks (q, k, v) of 4 rows
    np.testing.assert_array_equal(shard_part(whole, 0, 2, 3, 1).ravel(), [2, 3, 6, 7, 10, 11])


def test_collective_values_sum_gather_and_scatter_in_socket_order() -> None:
    a, b = np.array([[1.0, 2.0]], np.float32), np.array([[10.0, 20.0]], np.float32)
    assert [v.tolist() for v in collective_values("all_reduce", {"sockets": 2}, [a, b], "f32")] == [[[11, 22]]] * 2
    assert collective_values("all_gather", {"sockets": 2, "dim": 0}, [a, b], "f32")[1].tolist() == [[1, 2], [10, 20]]
    parts = collective_values("reduce_scatter", {"sockets": 2, "dim": 1}, [a, b], "f32")
    assert [p.tolist() for p in parts] == [[[11]], [[22]]]


def test_collective_time_follows_the_node_figures(tmp_path: Path) -> None:
    node = load_node("small-node8")
    chip = node.chip
    nbytes = 1 << 20
    sent, steps = peer_traffic("all_reduce", 8, nbytes)
    want = (steps * node.network.latency_seconds + sent / node.network.link_bytes_per_second) * chip.clock_hz
    assert collective_cycles(node, chip, "all_reduce", 8, nbytes) == pytest.approx(want, abs=1)
    fast = tmp_path / "fast.toml"
    fast.write_text((Path(node.source).read_text()).replace("link_bytes_per_second = 1.0e10", "link_bytes_per_second = 1.0e11"))
    assert collective_cycles(load_node(str(fast)), chip, "all_reduce", 8, nbytes) < collective_cycles(node, chip, "all_reduce", 8, nbytes)


def test_trace_has_a_process_per_socket(mlp_tp4) -> None:
    result = simulate_node(mlp_tp4.bitstream, None, execute=False)
    pids = {e["pid"] for e in result.chrome_trace()["traceEvents"]}
    assert pids == {1, 2, 3, 4}
    assert result.socket_cycles == [result.cycles] * 4


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _one_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(("args", "needles"), [
    (("--node", "small-node8", "--tp", "8"), ("tp=8 does not divide the 4 heads", "attention.py:36")),
    (("--node", "small-node8", "--tp", "16"), ("tp=16 needs 16 sockets, but node small-node8 has 8",)),
    (("--tp", "2"), ("--tp 2 needs --node NODE",)),
    (("--node", "no-such-node", "--tp", "2"), ("unknown node 'no-such-node'",)),
])
def test_bad_node_arguments(tmp_path: Path, args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    out = tmp_path / "out.rbit"
    _one_error(_invoke(str(EXAMPLES / "attention.py"), "-o", str(out), *args), *needles)
    assert not out.exists()


def test_node_file_with_an_unknown_topology(tmp_path: Path) -> None:
    bad = tmp_path / "mesh-node.toml"
    bad.write_text(Path(load_node("small-node8").source).read_text().replace('topology = "ring"', 'topology = "mesh"'))
    out = tmp_path / "out.rbit"
    _one_error(_invoke(str(EXAMPLES / "mlp.py"), "-o", str(out), "--node", str(bad), "--tp", "2"),
               "unknown network topology 'mesh'")
    assert not out.exists()


def test_cli_compile_inspect_and_sim(tmp_path: Path) -> None:
    out = tmp_path / "att.rbit"
    result = _invoke(str(EXAMPLES / "attention.py"), "-o", str(out), "--node", "small-node8", "--tp", "2")
    assert result.exit_code == 0 and "x 2 sockets of small-node8" in result.output
    text = _invoke("inspect", str(out)).output
    assert "node: small-node8, 2 sockets run this program (SPMD)" in text and "socket 1: HBM" in text
    sim = json.loads(_invoke("sim", str(out), "--json").output)
    assert sim["sockets"] == 2 and sim["collective_stages"] == 2 and sim["collective_cycles"] > 0


def test_decode_step_with_kv_cache_inputs_split_by_kv_head() -> None:
    """Each socket is given its KV heads' part of every cache input (2 KV heads over 4 sockets:
    each held by two), and the run still equals PyTorch."""
    from compiler.driver import compile_loaded
    from compiler.frontend.model_file import LoadedModel
    from tests.node import decode_model

    loaded = LoadedModel(Path("decode.py"), decode_model.model(), decode_model.example_inputs())
    compiled = compile_loaded(loaded, CompileOptions(node="small-node8", tp=4))
    cache = [s for s in compiled.bitstream.node.shards if compiled.bitstream.tensor(s.tensor).role == "input"]
    assert len(cache) == 4 and all((s.dim, s.parts) == (1, 2) for s in cache)
    report = run_compiled(compiled).to_json()
    assert report["allclose"] is True and report["sockets"] == 4


def test_compiler_picks_direct_for_small_values_and_ring_for_large_on_a_switch() -> None:
    from bitstream_format.node_program import choose_algorithm

    net = load_node("sn40l-rack16").network
    figures = (net.topology, net.link_bytes_per_second, net.links_per_socket, net.latency_seconds)
    assert choose_algorithm("all_reduce", 16, 8 << 10, *figures) == "direct"  # one decode token: latency-bound
    assert choose_algorithm("all_reduce", 16, 64 << 20, *figures) == "ring"  # a prefill's activations
    small = load_node("small-node8").network  # a ring: no direct path to a far socket
    ring = (small.topology, small.link_bytes_per_second, small.links_per_socket, small.latency_seconds)
    assert choose_algorithm("all_reduce", 8, 8 << 10, *ring) == "tree"  # 7 hops of latency, not 14
    assert choose_algorithm("all_reduce", 8, 64 << 20, *ring) == "ring"  # bandwidth-bound
    assert choose_algorithm("all_reduce", 6, 8 << 10, *ring) == "ring"  # no tree for 6 sockets


def test_a_tp_that_splits_no_weight_is_said(tmp_path: Path) -> None:
    """The MLP's widths do not divide by 3: rdu-shard replicates everything, and the user is told
    on stderr (a note, not an error: the program is correct, only N copies of the whole model)."""
    out = tmp_path / "mlp3.rbit"
    result = CliRunner().invoke(main, [str(EXAMPLES / "mlp.py"), "-o", str(out),
                                       "--node", "small-node8", "--tp", "3"])
    assert result.exit_code == 0 and out.exists()
    assert result.stderr.startswith("note: --tp 3 split no weight") and "fc1.weight" in result.stderr
    assert "note:" not in _invoke(str(EXAMPLES / "mlp.py"), "-o", str(out), "--node", "small-node8", "--tp", "2").output
    assert run_compiled(compile_model(EXAMPLES / "mlp.py", CompileOptions(node="small-node8", tp=3))).to_json()["notes"]
