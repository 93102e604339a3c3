"""The node spec: sockets of one chip joined by a peer-to-peer network, as data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from chip_model import NodeSpecError, available_nodes, load_node, load_node_file
from chip_model.node import NODE_DIR
from compiler.cli import main


def test_bundled_nodes() -> None:
    assert {"sn40l-node8", "sn40l-rack16", "small-node8"} <= set(available_nodes())


def test_sn40l_node_matches_the_paper() -> None:
    node = load_node("sn40l-node8")
    assert node.sockets == 8 and node.chip.name == "sn40l"
    assert node.ddr_to_hbm_bytes_per_second >= 1e12  # paper section V: over 1 TB/s (we take the bound)
    rack = load_node("sn40l-rack16")
    # Hot Chips 2024: a 16-socket system has 8 GB of SRAM and 1 TB of HBM.
    assert rack.capacity_bytes("sram") == pytest.approx(8e9, rel=0.05)
    assert rack.capacity_bytes("hbm") == pytest.approx(2**40, rel=0.05)


def test_every_network_figure_is_marked_as_an_assumption() -> None:
    """The paper publishes no inter-socket figure, so each must say it is an assumption."""
    for path in NODE_DIR.glob("*.toml"):
        for line in path.read_text().splitlines():
            key = line.split("=")[0].strip()
            if key in ("link_bytes_per_second", "latency_seconds", "issue_seconds_per_socket", "serial_issue"):
                assert "assumption" in line, f"{path.name}: {line}"


def test_node_json_and_text() -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["chip", "sn40l-node8", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["sockets"] == 8 and data["network"]["topology"] == "switch"
    assert data["totals"]["hbm"] == 8 * 64 * 2**30
    text = runner.invoke(main, ["chip", "small-node8"])
    assert text.exit_code == 0 and "8 x small" in text.output and "ring" in text.output
    sn40l = runner.invoke(main, ["chip", "sn40l-node8"])
    assert "hardware launch on 8 sockets 2,400 cycles (barrier per kernel 0.50 us)" in sn40l.output


def test_a_device_launch_that_is_not_a_table_is_named(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text("device_launch = 1\n" + GOOD.replace("[device_launch]\nbarrier_per_kernel = true\n", ""))
    with pytest.raises(Exception) as info:
        load_node_file(path)
    assert "[device_launch] must be a table (barrier_per_kernel = true or false), got 1" in str(info.value)


GOOD = """\
chip = "small"
sockets = 2
ddr_to_hbm_bytes_per_second = 1e11
[network]
topology = "ring"
link_bytes_per_second = 1e10
links_per_socket = 2
latency_seconds = 1e-6
[host_launch]
issue_seconds_per_socket = 1e-6
serial_issue = true
[device_launch]
barrier_per_kernel = true
"""


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (('topology = "ring"', 'topology = "torus"'), "unknown network topology 'torus': choose one of ring, switch"),
        (("latency_seconds = 1e-6\n", ""), "missing figure 'latency_seconds'"),
        (("sockets = 2", "sockets = 0"), "sockets must be positive, got 0"),
        (('chip = "small"', 'chip = "nochip"'), "unknown chip 'nochip'"),
        (("sockets = 2", "sockets = 2\nhosts = 1"), "unknown field(s) hosts"),
        (("issue_seconds_per_socket = 1e-6\n", ""), "[host_launch]: missing figure 'issue_seconds_per_socket'"),
        (("serial_issue = true\n", ""), "[host_launch]: missing figure 'serial_issue'"),
        (("serial_issue = true", "serial_issue = 1"), "serial_issue must be true or false, got 1"),
        (("issue_seconds_per_socket = 1e-6", "issue_seconds_per_socket = -1e-6"),
         "issue_seconds_per_socket must be positive"),
        (("[host_launch]\nissue_seconds_per_socket = 1e-6\nserial_issue = true\n", ""), "missing table [host_launch]"),
        (("[device_launch]\nbarrier_per_kernel = true\n", ""), "missing table [device_launch] (barrier_per_kernel)"),
        (("barrier_per_kernel = true\n", ""), "[device_launch]: missing figure 'barrier_per_kernel'"),
        (("barrier_per_kernel = true", "barrier_per_kernel = 1"), "barrier_per_kernel must be true or false, got 1"),
        (("barrier_per_kernel = true", "barrier_per_kernel = true\nbarrier_seconds = 1e-6"),
         "[device_launch] has unknown field(s) barrier_seconds"),
    ],
)
def test_invalid_nodes_are_rejected(tmp_path: Path, patch: tuple[str, str], message: str) -> None:
    path = tmp_path / "node.toml"
    path.write_text(GOOD.replace(*patch))
    with pytest.raises(Exception) as info:
        load_node_file(path)
    assert message in str(info.value)


def test_a_node_file_loads_by_path(tmp_path: Path) -> None:
    path = tmp_path / "two.toml"
    path.write_text(GOOD)
    node = load_node(str(path))
    assert node.sockets == 2 and node.network.socket_bytes_per_second == 2e10


def test_cli_names_a_bad_node_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace('topology = "ring"', 'topology = "torus"'))
    out = CliRunner().invoke(main, ["chip", str(path)])
    assert out.exit_code == 2
    assert out.output.startswith("error: ") and "torus" in out.output and "Traceback" not in out.output


def test_unknown_node_error_is_a_node_spec_error() -> None:
    with pytest.raises(NodeSpecError, match="unknown node 'node99'"):
        load_node("node99")


def test_host_launch_on_a_node_pays_each_sockets_issue(tmp_path: Path) -> None:
    """A software launch on P sockets is the chip's one-socket launch plus P - 1 issues when the
    host issues serially; issued in parallel, or on one socket, it is the chip's figure."""
    node = load_node("sn40l-node8")
    chip, host = node.chip, node.host_launch
    one = chip.launch.software_launch_cycles
    assert host.software_launch_cycles(chip, 1) == one
    assert host.software_launch_cycles(chip, 8) == one + round(7 * host.issue_seconds_per_socket * chip.clock_hz)
    path = tmp_path / "parallel.toml"
    path.write_text(GOOD.replace("serial_issue = true", "serial_issue = false"))
    parallel = load_node_file(path)
    assert parallel.host_launch.software_launch_cycles(parallel.chip, 2) == parallel.chip.launch.software_launch_cycles
    data = json.loads(CliRunner().invoke(main, ["chip", "sn40l-node8", "--json"]).output)
    assert data["host_launch"]["software_launch_cycles"] == host.software_launch_cycles(chip, 8)
