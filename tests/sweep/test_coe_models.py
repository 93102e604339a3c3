"""Decoders built as `rducc coe` builds them: a CoE file as a sweep's model (one model per distinct
expert architecture) and a Hugging Face config (one decoder layer), split by `tp` like any model."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.sweep import SweepError, expand, load_sweep, run_sweep
from compiler.sweep.worker import evaluate
from compiler.tasks.backends import LocalBackend

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
    a2, a4, b2, b4 = run_sweep(spec, tmp_path / "cache", backend=LocalBackend(evaluate)).records
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


TINY_HF = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
           "num_key_value_heads": 2, "vocab_size": 256, "torch_dtype": "float32"}


def hf_sweep(sweep_file, tmp_path: Path, config: dict | str, extra: str = "") -> Path:
    import json

    (tmp_path / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    return sweep_file('[sweep]\nnode = "small-node8"\n[[model]]\nhf_config = "config.json"\ncontext = 16\n' + extra)


def test_an_hf_config_is_one_decoder_layer(sweep_file, tmp_path: Path) -> None:
    spec = load_sweep(hf_sweep(sweep_file, tmp_path, TINY_HF, 'batch = 2\nphase = "prefill"\n[axes]\ntp = [1, 2]\n'))
    (model,) = spec.models
    assert model["name"] == "config prefill 16" and model["tokens"] == 32 and model["architecture"]["heads"] == 4
    one, two = run_sweep(spec, tmp_path / "cache", backend=LocalBackend(evaluate)).records
    assert (one["status"], two["status"]) == ("ok", "ok"), (one["error"], two["error"])
    assert (one["sockets"], two["sockets"]) == (1, 2) and two["collective_cycles"] > 0
    assert one["tokens_per_second"] == pytest.approx(32 / one["seconds"])


def test_the_samba150_configs_expand(sweep_file, tmp_path: Path) -> None:
    configs = Path(__file__).parents[2] / "examples" / "coe" / "samba150" / "configs"
    spec = load_sweep(sweep_file(f'[sweep]\nnode = "sn40l-node8"\n[[model]]\nhf_config = "{configs}/mistral-7b.json"\n'
                                 '[axes]\ntp = [8]\n'))
    (point,) = expand(spec)
    assert point.model["architecture"]["kv_heads"] == 8 and point.model["tokens"] == 1


@pytest.mark.parametrize(("config", "extra", "needle"), [
    ("{", "", "cannot read HF config config.json"),
    ({"hidden_size": 64}, "", "HF config lacks intermediate, layers, heads, vocab"),
    (TINY_HF, "batch = 0\n", "batch must be a positive integer, got 0"),
    (TINY_HF, "tokens = 4\n", "drop `layers` and `tokens`"),
])
def test_bad_hf_models_are_named(sweep_file, tmp_path: Path, config, extra: str, needle: str) -> None:
    with pytest.raises(SweepError) as info:
        load_sweep(hf_sweep(sweep_file, tmp_path, config, extra))
    assert needle in str(info.value)


def test_batch_is_for_decoders(sweep_file) -> None:
    with pytest.raises(SweepError, match="`batch` is for an hf_config model"):
        load_sweep(sweep_file('[[model]]\npath = "tiny_model.py"\nbatch = 2\n'))
