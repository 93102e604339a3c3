"""Golden test: the tiny functional CoE. The simulated router's outputs pick the expert (four
experts of three architectures, random weights, a fallback category), each expert generates
through its KV cache (compiler/generate.py's decode step, the cache held in the simulated HBM),
and the tokens generated end to end equal a PyTorch reference CoE (no cache) for the same prompts."""

from __future__ import annotations

import json

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
    assert out["programs"]["compiled"] <= 3
