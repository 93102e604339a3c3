"""`rducc coe plan|serve`: outputs, and every bad input as one `error:` line, exit 2, no traceback,
no output file left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from tests.coe.conftest import EXAMPLES, FIVE

MODELS = Path(__file__).resolve().parents[1] / "models"
TINY = EXAMPLES / "tiny"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def assert_user_error(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("[transformers]")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_plan_text_and_json():
    result = invoke("coe", "plan", str(EXAMPLES / "samba150" / "COE.toml"))
    assert result.exit_code == 0, result.output
    assert "CoE on sn40l-node8: 150 experts, decoders TP8" in result.stdout and "DDR" in result.stdout
    out = json.loads(invoke("coe", "plan", str(EXAMPLES / "samba150" / "COE.toml"), "--json").stdout)
    assert out["experts"] == 150 and out["distinct_architectures"] == 5 and out["fallback"] == "general"
    assert out["hbm"]["capacity_bytes"] == out["hbm"]["router_bytes"] + out["hbm"]["kv_cache_bytes"] + out["hbm"]["expert_cache_bytes"]


def test_serve_text_json_trace_and_plot(five_cache, tmp_path):
    root, _ = five_cache
    trace = tmp_path / "r.jsonl"
    trace.write_text("".join(json.dumps({"arrival": i * 0.001, "prompt_tokens": 20, "output_tokens": 5,
                                         "category": f"{'abcde'[i % 5]}-{i % 30}"}) + "\n" for i in range(12)))
    text = invoke("coe", "serve", str(FIVE), "--requests", str(trace), "--cache-dir", str(root), "--baseline", "dgx-h100")
    assert text.exit_code == 0, text.output
    assert "small-node8: 12 requests" in text.stdout and "dgx-h100: 12 requests" in text.stdout
    assert "programs: 0 compiled" in text.stdout
    result = invoke("coe", "serve", str(FIVE), "--requests", str(trace), "--cache-dir", str(root), "--json",
                    "--trace", str(tmp_path / "t.json"), "--plot", str(tmp_path / "p.png"))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {"ttft_seconds", "latency_seconds", "throughput_tokens_per_second", "hbm_hits", "hbm_misses",
            "switch_seconds", "utilisation"} <= set(out["summary"])
    assert [r["id"] for r in out["requests"]] == list(range(12))
    assert all(0 < r["ttft_seconds"] <= r["latency_seconds"] for r in out["requests"])
    events = json.loads((tmp_path / "t.json").read_text())["traceEvents"]
    assert {e["cat"] for e in events if e["ph"] == "X"} == {"router", "switch", "expert"}
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    from compiler.coe.plot import expert_counts

    curve = out["latency_by_experts"]["small-node8"]
    assert [p["experts"] for p in curve] == expert_counts(150)
    latencies = [p["mean_latency_seconds"] for p in curve if p["mean_latency_seconds"] is not None]
    assert latencies[-1] > latencies[0]  # more experts, more switching


def _coe(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "COE.toml"
    path.write_text(body)
    return path


ONE_ARCH = """
[architectures.t]
hidden = 64
intermediate = 128
layers = 2
heads = 8
kv_heads = 8
vocab = 256
max_context = 64
"""


def test_category_with_no_expert_and_no_fallback(tmp_path):
    coe = _coe(tmp_path, 'node = "small-node8"\ncategories = ["code", "poetry"]\n[router]\narchitecture = "t"\n'
                         + ONE_ARCH + '[map]\ncode = "e"\n[[experts]]\nname = "e"\narchitecture = "t"\n')
    assert_user_error(invoke("coe", "plan", str(coe)), "category 'poetry' has no expert and no fallback is given")


def test_expert_that_does_not_compile_is_named(tmp_path):
    coe = _coe(tmp_path, f'node = "small-node8"\n[router]\narchitecture = "t"\n{ONE_ARCH}'
                         f'[compile]\nplacer = "greedy"\n[map]\ncode = "good"\nmath = "bad"\n'
                         f'[[experts]]\nname = "good"\narchitecture = "t"\n'
                         f'[[experts]]\nname = "bad"\nmodel = "{MODELS / "unsupported_op.py"}"\n')
    trace = tmp_path / "r.jsonl"
    trace.write_text('{"prompt_tokens": 1, "output_tokens": 2, "category": "code"}\n'
                     '{"prompt_tokens": 1, "output_tokens": 2, "category": "math"}\n')
    out = tmp_path / "t.json"
    line = assert_user_error(invoke("coe", "serve", str(coe), "--requests", str(trace), "--cache-dir", str(tmp_path / "c"),
                                    "--trace", str(out)), "expert bad (model", "unsupported_op.py", "does not compile",
                             "the other 2 model(s) compile")
    assert "bessel_j0" in line
    assert not out.exists()


def test_trace_line_that_does_not_parse(tmp_path):
    trace = tmp_path / "r.jsonl"
    trace.write_text('{"prompt_tokens": 4, "output_tokens": 2}\n\n{"prompt_tokens": 4, "output_tokens": \n')
    assert_user_error(invoke("coe", "serve", str(FIVE), "--requests", str(trace)), "r.jsonl:3: not a JSON object")
    csv = tmp_path / "a.csv"
    csv.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:47.1,x,1\n")
    assert_user_error(invoke("coe", "serve", str(FIVE), "--requests", str(csv)), "a.csv:3: ContextTokens and GeneratedTokens")


def test_library_too_large_for_the_node(tmp_path):
    coe = _coe(tmp_path, 'node = "sn40l-node8"\n[router]\narchitecture = "l"\n[architectures.l]\nhidden = 4096\n'
                         'intermediate = 11008\nlayers = 32\nheads = 32\nkv_heads = 32\nvocab = 32000\n'
                         '[[experts]]\nname = "e"\narchitecture = "l"\ncount = 1000\ncategories = ["c{i}"]\n')
    assert_user_error(invoke("coe", "plan", str(coe)), "the library does not fit sn40l-node8", "1000 experts need 13.48 TB",
                      "the node has 13.19 TB", "it holds 979 experts of this mix")


def test_request_longer_than_the_context(tmp_path):
    trace = tmp_path / "r.jsonl"
    trace.write_text('{"prompt_tokens": 4, "output_tokens": 2, "category": "a-1"}\n'
                     '{"prompt_tokens": 250, "output_tokens": 20, "category": "b-2"}\n')
    plot = tmp_path / "p.png"
    assert_user_error(invoke("coe", "serve", str(FIVE), "--requests", str(trace), "--plot", str(plot)),
                      "request at line 2: 250 prompt + 20 output tokens exceed expert b-2's context of 256")
    assert not plot.exists()


@pytest.mark.parametrize(("body", "needle"), [
    ('node = "small-node8"\n[router]\narchitecture = "t"\n' + ONE_ARCH + '[map]\ncode = "nobody"\n[[experts]]\nname = "e"\narchitecture = "t"\n',
     "category 'code' maps to unknown expert 'nobody'"),
    ('node = "small-node8"\n[router]\narchitecture = "zz"\n' + ONE_ARCH + '[[experts]]\nname = "e"\narchitecture = "t"\n',
     "unknown architecture 'zz'"),
    ('node = "nowhere"\n[router]\narchitecture = "t"\n' + ONE_ARCH + '[[experts]]\nname = "e"\narchitecture = "t"\n',
     "unknown node 'nowhere'"),
])
def test_other_bad_coe_files(tmp_path, body, needle):
    assert_user_error(invoke("coe", "plan", str(_coe(tmp_path, body))), needle)


def test_trace_category_with_no_expert_and_no_fallback_names_its_line(tmp_path):
    coe = _coe(tmp_path, 'node = "small-node8"\n[router]\narchitecture = "t"\n' + ONE_ARCH
                         + '[map]\ncode = "e"\n[[experts]]\nname = "e"\narchitecture = "t"\n')
    trace = tmp_path / "r.jsonl"
    trace.write_text('{"prompt_tokens": 4, "output_tokens": 2, "category": "code"}\n'
                     '{"prompt_tokens": 4, "output_tokens": 2, "category": "poetry"}\n')
    out = tmp_path / "t.json"
    assert_user_error(invoke("coe", "serve", str(coe), "--requests", str(trace), "--cache-dir", str(tmp_path / "c"),
                             "--trace", str(out)),
                      "request at line 2: category 'poetry' has no expert and COE.toml names no fallback")
    assert not out.exists()
