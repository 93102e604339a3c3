"""A CoE file as a sweep's model: one model per distinct expert architecture, compiled as
`rducc coe` compiles it and split by `tp` like any model."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.sweep import SweepError, expand, load_sweep, run_sweep
from compiler.sweep.ray_backend import LocalBackend

HEAD = '[sweep]\nnode = "small-node8"\n[[model]]\ncoe = "tiny_coe.toml"\ncontext = 16\n'


def test_one_model_per_architecture(sweep_file) -> None:
    spec = load_sweep(sweep_file(HEAD))
    # router and expert alpha share tiny-a: one model, not two
    assert [m["name"] for m in spec.models] == ["tiny_coe/tiny-a", "tiny_coe/tiny-b"]
    assert [m["tokens"] for m in spec.models] == [2, 2]  # decode: one token per sequence of the CoE's batch
    prefill = load_sweep(sweep_file(HEAD.replace("context = 16", 'context = 16\nphase = "prefill"\nname = "lib"')))
    assert [m["name"] for m in prefill.models] == ["lib/tiny-a", "lib/tiny-b"] and prefill.models[0]["tokens"] == 32


def test_key_follows_the_architecture_not_its_name(sweep_file, tmp_path: Path) -> None:
    before = [p.compile_key for p in expand(load_sweep(sweep_file(HEAD)))]
    coe = tmp_path / "tiny_coe.toml"
    coe.write_text(coe.read_text().replace("tiny-b", "tiny-renamed"))
    assert [p.compile_key for p in expand(load_sweep(sweep_file(HEAD)))] == before
    coe.write_text(coe.read_text().replace("hidden = 32", "hidden = 48"))
    after = [p.compile_key for p in expand(load_sweep(sweep_file(HEAD)))]
    assert after[0] == before[0] and after[1] != before[1]


def test_architectures_split_over_the_node(sweep_file, tmp_path: Path) -> None:
    spec = load_sweep(sweep_file(HEAD + "[axes]\ntp = [2, 4]\n"))
    a2, a4, b2, b4 = run_sweep(spec, tmp_path / "cache", backend=LocalBackend()).records
    assert [r["status"] for r in (a2, a4, b2)] == ["ok"] * 3, [r["error"] for r in (a2, a4, b2)]
    assert (a2["sockets"], a4["sockets"]) == (2, 4) and a4["collective_cycles"] > 0
    assert a4["socket_hbm_bytes"] < a2["socket_hbm_bytes"]
    assert b4["status"] == "failed" and "tp=4 does not divide the 2 heads" in b4["error"]


@pytest.mark.parametrize(("text", "needle"), [
    (HEAD.replace("tiny_coe.toml", "nope.toml"), "CoE file nope.toml does not exist"),
    (HEAD + "layers = 2\n", "drop `layers` and `tokens`"),
    (HEAD.replace('coe = "tiny_coe.toml"', 'coe = "tiny_coe.toml"\npath = "tiny_model.py"'), "exactly one of `path`"),
])
def test_bad_coe_models_are_named(sweep_file, text: str, needle: str) -> None:
    with pytest.raises(SweepError) as info:
        load_sweep(sweep_file(text))
    assert needle in str(info.value)


def test_a_bad_coe_file_is_one_sweep_error(sweep_file, tmp_path: Path) -> None:
    path = sweep_file(HEAD)
    coe = tmp_path / "tiny_coe.toml"
    coe.write_text(coe.read_text().replace("kv_heads = 2\nvocab = 256\nmax_context = 64\ndtype_bytes = 4\n\n[architectures.tiny-b]",
                                           "kv_heads = 3\nvocab = 256\nmax_context = 64\ndtype_bytes = 4\n\n[architectures.tiny-b]"))
    with pytest.raises(SweepError, match=r"model 1: .*heads \(4\) must be a multiple of kv_heads \(3\)"):
        load_sweep(path)
