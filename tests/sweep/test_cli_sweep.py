"""`rducc sweep`: output files, --json, and every user error as one `error:` line with exit 2."""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from tests.sweep.conftest import NODE, TINY
from tests.test_cli_errors import assert_user_error


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_local_sweep_writes_csv_json_and_plots(sweep_file, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("matplotlib")
    from rich.console import Console

    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))  # --json still shows no bar
    head = TINY.replace('chip = "small"', 'chip = "small"\nmetrics = ["cycles", "bound"]')
    path = sweep_file(head + '[axes]\nlaunch = ["software", "hardware"]\n')
    out, plots = tmp_path / "r" / "results.csv", tmp_path / "plots"
    result = invoke("sweep", path, "--local", "-o", out, "--plots", plots, "--cache", tmp_path / "c", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert result.stderr == ""
    assert (summary["points"], summary["failed"], summary["cached"]) == (2, 0, 1)
    rows = list(csv.DictReader(out.open()))
    assert [r["launch"] for r in rows] == ["software", "hardware"]
    assert [int(r["cycles"]) for r in rows] == [r["cycles"] for r in summary["rows"]]
    names = sorted(p.name for p in plots.iterdir())
    assert names == ["cycles_vs_launch.png", "pareto.png"]  # bound is not a number: no plot
    assert all((plots / n).read_bytes()[:4] == b"\x89PNG" for n in names)
    text = invoke("sweep", path, "--local", "--cache", tmp_path / "c")
    assert text.exit_code == 0 and "2 points: 0 failed, 2 cached" in text.stdout


def test_csv_is_deterministic(sweep_file, tmp_path: Path) -> None:
    path = sweep_file(TINY + '[axes]\nopt_level = [1]\n')
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    assert invoke("sweep", path, "--local", "-o", one, "--cache", tmp_path / "c1").exit_code == 0
    assert invoke("sweep", path, "--local", "-o", two, "--cache", tmp_path / "c2").exit_code == 0
    # all but compile_seconds (a wall time) agree
    a, b = list(csv.DictReader(one.open())), list(csv.DictReader(two.open()))
    for ra, rb in zip(a, b):
        ra.pop("compile_seconds"), rb.pop("compile_seconds")
        ra.pop("cached"), rb.pop("cached")
    assert a == b and len(a) == 1


@pytest.mark.parametrize(("text", "needles"), [
    ('[axes]\n"pmu.sram" = [1]\n', ["names no field of the chip spec"]),
    ('[axes]\n"pmu.sram_bytes" = [1.5]\n', ["pmu.sram_bytes: value 1.5 is a number"]),
    ('[axes]\nopt_level = []\n', ["the sweep has no points"]),
])
def test_bad_sweep_is_one_error_line(sweep_file, tmp_path: Path, text: str, needles: list[str]) -> None:
    out = tmp_path / "r.csv"
    assert_user_error(invoke("sweep", sweep_file(TINY + text), "--local", "-o", out, "--cache", tmp_path / "c"), *needles)
    assert not out.exists()


@pytest.mark.parametrize(("text", "needles"), [
    (NODE + '[axes]\n"network.link_bw" = [1.0e9]\n', ["axis 'network.link_bw' names no field of the node spec"]),
    (NODE + '[axes]\n"pmu.sram_bytes" = [32768]\n', ["is chip.pmu.sram_bytes under a node"]),
    (NODE + '[axes]\nsockets = [2.5]\n', ["axis sockets: value 2.5 is a number, but the node spec's sockets is an integer"]),
    (NODE + '[axes]\n"chip.pmu.sram_bytes" = ["big"]\n', ["axis chip.pmu.sram_bytes: value 'big' is a string"]),
    (NODE.replace("small-node8", "nowhere-node"), ["unknown node 'nowhere-node'"]),
    (TINY + '[axes]\ntp = [2, 4]\n', ["axis tp: tp=2 runs over the sockets of a node"]),
])
def test_bad_node_sweep_is_one_error_line(sweep_file, tmp_path: Path, text: str, needles: list[str]) -> None:
    out = tmp_path / "r.csv"
    assert_user_error(invoke("sweep", sweep_file(text), "--local", "-o", out, "--cache", tmp_path / "c"), *needles)
    assert not out.exists()


def test_missing_sweep_file(tmp_path: Path) -> None:
    assert_user_error(invoke("sweep", tmp_path / "nope.toml", "--local"), "sweep file", "does not exist")


def test_unknown_results_format(sweep_file, tmp_path: Path) -> None:
    assert_user_error(invoke("sweep", sweep_file(TINY), "--local", "-o", tmp_path / "r.xlsx"), "must end in .csv or .parquet")


def test_parquet_needs_pyarrow(sweep_file, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert_user_error(invoke("sweep", sweep_file(TINY), "--local", "-o", tmp_path / "r.parquet"), "Parquet needs pyarrow")


def test_parquet_when_pyarrow_is_there(sweep_file, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "r.parquet"
    assert invoke("sweep", sweep_file(TINY), "--local", "-o", out, "--cache", tmp_path / "c").exit_code == 0
    assert pq.read_table(out).column("status").to_pylist() == ["ok"]


def test_without_ray_the_error_says_how_to_install(sweep_file, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    assert_user_error(invoke("sweep", sweep_file(TINY), "-o", tmp_path / "r.csv"), "Ray is not installed", "pip install", "--local")
    assert not (tmp_path / "r.csv").exists()


def test_without_matplotlib_plots_say_how_to_install(sweep_file, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert_user_error(invoke("sweep", sweep_file(TINY), "--local", "--plots", tmp_path / "p"), "plots need matplotlib")


def test_unreachable_ray_address_fails_fast(sweep_file, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    start = time.perf_counter()
    result = invoke("sweep", sweep_file(TINY), "--ray", "127.0.0.1:9", "--cache", tmp_path / "c")
    assert_user_error(result, "cannot reach a Ray cluster at 127.0.0.1:9")
    assert time.perf_counter() - start < 20


def test_ray_address_of_another_server_fails_fast(sweep_file, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    import socketserver
    import threading

    class Http1(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(64)
            self.request.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

    with socketserver.TCPServer(("127.0.0.1", 0), Http1) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        start = time.perf_counter()
        result = invoke("sweep", sweep_file(TINY), "--ray", f"127.0.0.1:{server.server_address[1]}", "--cache", tmp_path / "c")
        server.shutdown()
    assert_user_error(result, "does not answer as Ray (gRPC) does")
    assert time.perf_counter() - start < 20


@pytest.mark.parametrize(("answer", "what"), [
    (b"\x8d", "an HTTP/2 proxy answering 404"),
    (b"\x88@\x0bgrpc-status\x0212", "a gRPC server that does not know Ray's methods"),
])
def test_ray_address_of_an_http2_server_fails_fast(sweep_file, tmp_path: Path, answer: bytes, what: str) -> None:
    """Something that speaks HTTP/2 but is not Ray (here, answering the probe's call on stream 1)."""
    pytest.importorskip("ray")
    import socketserver
    import threading

    from compiler.tasks.backends import _frame

    class Http2(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(4096)
            self.request.sendall(_frame(4, 0, 0, b"") + _frame(1, 5, 1, answer))

    with socketserver.TCPServer(("127.0.0.1", 0), Http2) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        start = time.perf_counter()
        result = invoke("sweep", sweep_file(TINY), "--ray", f"127.0.0.1:{server.server_address[1]}", "--cache", tmp_path / "c")
        server.shutdown()
    assert_user_error(result, "does not answer as Ray (gRPC) does")
    assert time.perf_counter() - start < 20, what


def test_malformed_ray_address(sweep_file, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    assert_user_error(invoke("sweep", sweep_file(TINY), "--ray", "somewhere", "--cache", tmp_path / "c"), "expected HOST:PORT")


def test_local_and_ray_conflict(sweep_file) -> None:
    assert_user_error(invoke("sweep", sweep_file(TINY), "--local", "--ray", "127.0.0.1:6379"), "cannot be combined with --ray")
