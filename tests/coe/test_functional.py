"""Golden test: the tiny functional CoE. The simulated router's outputs pick the expert (three
experts of different architectures, random weights, a fallback category) and the tokens generated
end to end equal a PyTorch reference CoE for the same prompts."""

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
    assert {g.category for g in got} == {"code", "math", "chat", "other"}
    assert {g.expert for g in got} == {"coder", "solver", "chatter"}
    assert all(g.expert == "chatter" for g in got if g.category == "other")
    assert [len(g.tokens) for g in got] == [r.output_tokens for r in requests]
    assert len(session.programs.compiles) == 4  # the router and three experts, each compiled once
    assert sum(session.programs.compiles.values()) == 4

    # `rducc coe serve` routes the same prompts with the same simulated router, from the cache
    from compiler.cli import main

    result = CliRunner().invoke(main, ["coe", "serve", str(TINY / "COE.toml"), "--requests", str(TINY / "requests.jsonl"),
                                       "--cache-dir", str(tmp_path), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [r["expert"] for r in out["requests"]] == [g.expert for g in got]
    assert out["programs"]["compiled"] == 0
