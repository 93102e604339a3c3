"""`rducc generate MODEL.py --tokens N [--json]`: tokens, cycles, the comparison with PyTorch, and
one `error:` line (exit 2) for every bad request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("transformers")

from compiler.cli import main  # noqa: E402

HERE = Path(__file__).parent
TINY = str(HERE / "models" / "tiny_llama.py")
EXAMPLES = HERE.parents[1] / "examples"


def invoke(*args: str):
    return CliRunner().invoke(main, ["generate", *args], catch_exceptions=False)


def test_generate_json_reports_tokens_cycles_and_the_match() -> None:
    result = invoke(TINY, "--tokens", "3", "--chip", "small", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["match"] is True and report["tokens"] == report["reference_tokens"] and len(report["tokens"]) == 3
    assert report["prompt_len"] == 3 and report["cache_len"] == 5
    assert len(report["step_cycles"]) == 2 and report["decode_step_cycles"] == report["step_cycles"][0] > 0
    assert report["prefill_cycles"] > 0
    assert report["row_bytes_per_step"] == 2 * 1 * 16 * 4  # K and V rows of 1 kv head x head_dim 16, f32
    assert report["cache_bytes"] == 2 * 1 * 5 * 16 * 4


def test_generate_tensor_parallel_json() -> None:
    """`--node/--tp`: the node programs on 2 sockets, one KV head held whole by both."""
    result = invoke(TINY, "--tokens", "2", "--node", "small-node8", "--tp", "2", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["match"] is True and (report["node"], report["sockets"], report["chip"]) == ("small-node8", 2, "small")
    assert report["socket_cache_bytes"] == report["cache_bytes"] == 2 * 1 * 4 * 16 * 4
    assert report["collective_cycles"] > 0


def test_generate_text() -> None:
    result = invoke(TINY, "--tokens", "2", "--chip", "small")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("tokens: ") and "match: yes" in lines
    assert any(line.startswith("decode step: ") and "cycles" in line for line in lines)


def assert_user_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(("args", "needles"), [
    ([str(EXAMPLES / "mlp.py")], ["mlp.py is a MLP, not a Hugging Face causal LM", "takes a KV cache"]),
    ([TINY, "--tokens", "8", "--cache-len", "6"],
     ["3 prompt tokens + 8 new tokens need 10 cache rows but the cache holds 6 (--cache-len)"]),
    ([TINY, "--tokens", "20"], ["3 prompt tokens + 20 new tokens need 22 cache rows, beyond the model's "
                                "max_position_embeddings of 16"]),
    ([TINY, "--tokens", "0"], ["--tokens must be at least 1, got 0"]),
    ([TINY, "--cache-len", "-1"], ["--cache-len must be positive, got -1"]),
    ([str(HERE / "missing.py")], ["missing.py does not exist"]),
    ([TINY, "--node", "small-node8", "--tp", "4"], ["tp=4 does not divide the 2 heads of reshape"]),
    ([TINY, "--node", "small-node8", "--tp", "16"], ["tp=16 needs 16 sockets, but node small-node8 has 8"]),
    ([TINY, "--tp", "2"], ["--tp 2 needs --node NODE"]),
    ([TINY, "--node", "no-such-node", "--tp", "2"], ["unknown node 'no-such-node'"]),
])
def test_bad_requests_are_one_error_line(args: list[str], needles: list[str]) -> None:
    assert_user_error(invoke(*args, "--chip", "small"), *needles)
