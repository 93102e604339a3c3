"""Golden test: the tiny functional CoE. The simulated router's outputs pick the expert (four
experts of three architectures, random weights, a fallback category), each expert generates
through its KV cache (compiler/generate.py's decode step, the cache held in the simulated HBM),
and the tokens generated end to end equal a PyTorch reference CoE (no cache) for the same prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.coe.requests import read_requests
from tests.coe.conftest import EXAMPLES

TINY = EXAMPLES / "tiny"


def test_tiny_coe_generates_what_pytorch_generates(tmp_path):
    from compiler.coe.functional import FunctionalCoE, reference
    from compiler.coe.session import CoESession

    session = CoESession(TINY / "COE.toml", tmp_path)
    requests = read_requests(TINY / "requests.jsonl")
    got = FunctionalCoE(session).run(requests)
    want = reference(session.spec, requests)
    assert got == want
    # the router spread the prompts over every category, "other" went to the fallback's expert
    assert {g.category for g in got} == {"code", "math", "chat", "story", "other"}
    assert {g.expert for g in got} == {"coder", "solver", "chatter", "storyteller"}
    assert all(g.expert == "chatter" for g in got if g.category == "other")
    assert [len(g.tokens) for g in got] == [r.output_tokens for r in requests]
    # the router and three architectures (coder and storyteller share one), each compiled once
    assert sorted(session.programs.compiles.values()) == [1, 1, 1, 1]
    coder, storyteller = session.spec.expert("coder"), session.spec.expert("storyteller")
    assert coder.architecture.digest() == storyteller.architecture.digest()

    # `rducc coe generate` runs the same CoE from the cache and agrees with PyTorch
    from compiler.cli import main

    result = CliRunner().invoke(main, ["coe", "generate", str(TINY / "COE.toml"), "--requests",
                                       str(TINY / "requests.jsonl"), "--cache-dir", str(tmp_path), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["match"] is True and out["programs"]["compiled"] == 0
    assert [r["tokens"] for r in out["requests"]] == [g.tokens for g in got]
    text = CliRunner().invoke(main, ["coe", "generate", str(TINY / "COE.toml"), "--requests", str(TINY / "requests.jsonl"),
                                     "--cache-dir", str(tmp_path), "--no-reference"], catch_exceptions=False)
    assert text.exit_code == 0 and "request 0: code -> coder: " in text.stdout and "match" not in text.stdout

    # `rducc coe serve` routes the same prompts with the same simulated router; the router's program
    # comes from the cache (the experts' timing programs are timer.py's fixed-window ones)
    result = CliRunner().invoke(main, ["coe", "serve", str(TINY / "COE.toml"), "--requests", str(TINY / "requests.jsonl"),
                                       "--cache-dir", str(tmp_path), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [r["expert"] for r in out["requests"]] == [g.expert for g in got]
    assert out["programs"]["compiled"] == 3  # the three expert architectures' timing programs


def _tiny_coe(tmp_path, extra_expert: str = "") -> Path:
    text = (TINY / "COE.toml").read_text()
    for name in ("router.py", "llama_expert.py", "gpt2_expert.py", "qwen2_expert.py"):
        text = text.replace(f'"{name}"', f'"{TINY / name}"')
    path = tmp_path / "COE.toml"
    path.write_text(text + extra_expert)
    return path


def _generate(coe, lines: str, tmp_path):
    from compiler.cli import main

    trace = tmp_path / "r.jsonl"
    trace.write_text(lines)
    return CliRunner().invoke(main, ["coe", "generate", str(coe), "--requests", str(trace), "--cache-dir",
                                     str(tmp_path / "cache")], catch_exceptions=False)


@pytest.mark.parametrize(("lines", "needle"), [
    ('{"prompt": [1, 2], "output_tokens": 2, "category": "code"}\n{"prompt": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "output_tokens": 8, "category": "math"}\n',
     "request at line 2: 10 prompt + 8 output tokens exceed expert solver's context of 16"),
    ('{"prompt_tokens": 4, "output_tokens": 2, "category": "code"}\n',
     'request at line 1: no prompt token ids: a functional CoE generates from a "prompt" list'),
    ('{"prompt": [3, 300], "output_tokens": 2, "category": "story"}\n',
     "request at line 1: token id 300 is outside expert storyteller's vocabulary of 256"),
    ('{"prompt": [3], "output_tokens": 2, "category": "code"}\n{"prompt_tokens": 3, "output_tokens": 2}\n',
     "request at line 2 has neither a category nor a prompt for the router"),
])
def test_generate_refuses_requests_it_cannot_run(tmp_path, lines, needle):
    from tests.coe.test_cli import assert_user_error

    assert_user_error(_generate(_tiny_coe(tmp_path), lines, tmp_path), needle)
    assert not (tmp_path / "cache").exists()  # refused before anything compiled


def test_generate_names_the_expert_that_does_not_compile(tmp_path):
    from tests.coe.test_cli import assert_user_error

    classifier = tmp_path / "classifier.py"  # a model, but not a causal LM: no KV-cache decode step
    classifier.write_text((TINY / "router.py").read_text() + "\n# an expert that cannot generate\n")
    coe = _tiny_coe(tmp_path, f'\n[[experts]]\nname = "classifier"\nmodel = "{classifier}"\ncategories = ["sort"]\n')
    line = assert_user_error(
        _generate(coe, '{"prompt": [5, 6], "output_tokens": 3, "category": "code"}\n'
                       '{"prompt": [5, 6], "output_tokens": 3, "category": "sort"}\n', tmp_path),
        "expert classifier (model", "does not compile", "classifier.py is a Router, not a Hugging Face causal LM",
        "the other 5 model(s) compile")
    assert "Traceback" not in line


def test_generate_needs_a_functional_coe(tmp_path):
    from tests.coe.conftest import FIVE
    from tests.coe.test_cli import assert_user_error

    assert_user_error(_generate(FIVE, '{"prompt": [1], "output_tokens": 2, "category": "a-1"}\n', tmp_path),
                      "router is shapes-only (architecture a): a functional CoE needs MODEL.py files with weights")


def test_coe_compile_includes_each_generating_architectures_decode_step(tmp_path):
    from compiler.coe.functional import decode_shape
    from compiler.coe.session import CoESession

    classifier = tmp_path / "classifier.py"  # an expert that is no causal LM: timed, never generated with
    classifier.write_text((TINY / "router.py").read_text() + "\n# an expert that cannot generate\n")
    session = CoESession(_tiny_coe(tmp_path, f'\n[[experts]]\nname = "c"\nmodel = "{classifier}"\ncategories = ["s"]\n'))
    decoding = {a.path.name for a, s in session.every_need() if s == decode_shape(a)}
    assert decoding == {"llama_expert.py", "gpt2_expert.py", "qwen2_expert.py"}
