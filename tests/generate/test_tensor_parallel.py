"""Tensor-parallel greedy decode: `generate` with `--node/--tp` runs the prefill and decode-step
node programs on every socket, each socket holding its KV heads' part of the cache in its own
simulated HBM and appending its own rows, and its tokens equal PyTorch's."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from compiler.driver import CompileOptions  # noqa: E402
from compiler.frontend.model_file import load_model_file  # noqa: E402
from compiler.generate import GenerateOptions, cached_model, compile_program, generate  # noqa: E402
from functional_sim.errors import SimulationError  # noqa: E402
from functional_sim.session import Session, join_parts  # noqa: E402
from functional_sim.timing import agcu_tier_bytes  # noqa: E402

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[1] / "examples"
MODELS = HERE / "models"
PROMPT = [[17, 200, 3, 96, 45]]


def _options(tp: int) -> GenerateOptions:
    return GenerateOptions(CompileOptions(node="small-node8", tp=tp))


def _kv_heads(path: Path) -> int:
    return load_model_file(path).module.config.num_key_value_heads


@pytest.mark.parametrize(("path", "tp"), [
    (MODELS / "tiny_llama.py", 2),  # one KV head: every socket holds the whole cache
    (MODELS / "tiny_llama8.py", 2),  # one KV head per socket
    (MODELS / "tiny_llama8.py", 8),  # 2 KV heads over 8 sockets: each head's cache held by 4
    (EXAMPLES / "llama.py", 4),  # each of 2 KV heads held by 2 sockets
])
def test_tensor_parallel_greedy_tokens_match_pytorch(path: Path, tp: int) -> None:
    prompt = PROMPT if path.parent == EXAMPLES else None
    tokens, report = generate(path, prompt, 3, _options(tp))
    assert report.match and tokens == report.reference_tokens and len(tokens) == 3
    assert (report.node, report.sockets, report.chip) == ("small-node8", tp, "small")
    kv = _kv_heads(path)
    assert report.socket_cache_bytes * min(tp, kv) == report.cache_bytes
    assert len(report.step_cycles) == 2 and report.step_cycles[0] > 0 and report.collective_cycles > 0


@pytest.mark.slow
@pytest.mark.parametrize(("path", "tp"), [(EXAMPLES / "llama.py", 2), (EXAMPLES / "qwen2.py", 2), (EXAMPLES / "qwen2.py", 4),
                                          (EXAMPLES / "mixtral.py", 2), (EXAMPLES / "mixtral.py", 4),
                                          (MODELS / "tiny_llama8.py", 4)])
def test_tensor_parallel_greedy_tokens_match_pytorch_more_models(path: Path, tp: int) -> None:
    """The other tiny HF examples and degrees (the fast test above covers the same code: one KV
    head per socket, KV heads shared by sockets, one KV head on every socket)."""
    prompt = PROMPT if path.parent == EXAMPLES else None
    tokens, report = generate(path, prompt, 4, _options(tp))
    assert report.match and tokens == report.reference_tokens and report.sockets == tp


@pytest.fixture(scope="module")
def llama_tp4():
    model = load_model_file(EXAMPLES / "llama.py").module
    wrapper = cached_model(model, 8)
    prompt = torch.tensor(PROMPT)
    options = CompileOptions(node="small-node8", tp=4)
    prefill = compile_program(wrapper, Path("llama_prefill.py"), prompt, torch.arange(5), options)
    decode = compile_program(wrapper, Path("llama_decode.py"), prompt[:, :1], torch.tensor([0]), options)
    return wrapper, prompt, prefill, decode


def test_each_socket_holds_its_kv_heads_cache_in_its_own_hbm(llama_tp4) -> None:
    """2 KV heads over 4 sockets: sockets 0-1 hold head 0's cache, 2-3 head 1's, each in its own
    memory, and after the prefill and a decode step each holds what PyTorch cached for its head."""
    wrapper, prompt, prefill, decode = llama_tp4
    for bs in (prefill, decode):
        states = [t for t in bs.tensors if t.role == "state"]
        assert len(states) == 4 and all(tuple(t.shape) == (1, 1, 8, 16) for t in states)  # one KV head of 8 rows
        shards = [bs.node.shard_of(t.id) for t in states]
        assert all((s.dim, s.parts, s.whole_shape) == (1, 2, (1, 2, 8, 16)) for s in shards)
    session = Session("small")
    session.run(prefill, [prompt.numpy(), np.arange(5)])
    result = session.run(decode, [np.array([[11]]), np.array([5])])
    assert result.sockets == 4 and result.collective_stages > 0
    wrapper.reset()
    with torch.no_grad():
        wrapper(prompt, torch.arange(5))
        wrapper(torch.tensor([[11]]), torch.tensor([5]))
    for name in ("key_cache_0", "value_cache_1"):
        theirs = getattr(wrapper, name).numpy()
        for socket in range(4):
            ours = session.state(name, socket=socket)
            np.testing.assert_allclose(ours[:, :, :6], theirs[:, socket // 2:socket // 2 + 1, :6], rtol=1e-4, atol=1e-5)
            assert not ours[:, :, 6:].any()  # rows never written keep the image's zeros
        np.testing.assert_allclose(session.state(name)[:, :, :6], theirs[:, :, :6], rtol=1e-4, atol=1e-5)
    wrapper.reset()


def test_each_socket_appends_only_its_own_heads_row(llama_tp4) -> None:
    from compiler.inspect_node import describe_node, node_use

    _, _, _, decode = llama_tp4
    use = node_use(decode)
    assert (use["split_states"], use["split_inputs"]) == (4, 0)
    assert "4 split states (KV cache)" in describe_node(decode)[0]
    state_ids = {t.id for t in decode.tensors if t.role == "state"}
    writes = [s for s in decode.stages if s.tensor in state_ids and s.opcode != "load"]
    assert sorted({s.opcode for s in writes}) == ["store_rows"] and len(writes) == 4
    assert all(agcu_tier_bytes(decode, s) == ("hbm", 1 * 16 * 4) for s in writes)  # 1 KV head x head_dim 16, f32


def test_programs_that_split_the_cache_differently_cannot_share_it(llama_tp4) -> None:
    _, prompt, prefill, decode = llama_tp4
    node = decode.node
    states = {t.id for t in decode.tensors if t.role == "state"}
    moved = tuple(dataclasses.replace(s, dim=3) if s.tensor in states else s for s in node.shards)
    other = dataclasses.replace(decode, node=dataclasses.replace(node, shards=moved))
    session = Session("small")
    session.run(prefill, [prompt.numpy(), np.arange(5)])
    with pytest.raises(SimulationError, match=r"split along dim 3 into 2 parts in this program but .* split along "
                                              r"dim 1 into 2 parts in the session: programs sharing state must"):
        session.run(other, [np.array([[11]]), np.array([5])])


def test_a_session_runs_programs_of_one_socket_count(llama_tp4) -> None:
    _, prompt, prefill, _ = llama_tp4
    session = Session("small")
    session.run(prefill, [prompt.numpy(), np.arange(5)])
    lone = dataclasses.replace(prefill, node=None)
    with pytest.raises(SimulationError, match="the bitstream runs on 1 socket\\(s\\) but the session simulates 4"):
        session.run(lone, [prompt.numpy(), np.arange(5)])


def test_join_parts_inverts_shard_part() -> None:
    from bitstream_format.node_program import shard_part

    whole = np.arange(2 * 12 * 3).reshape(2, 12, 3)
    for parts, blocks in ((2, 1), (4, 1), (2, 3)):
        pieces = [shard_part(whole, 1, parts, blocks, i) for i in range(parts)]
        np.testing.assert_array_equal(join_parts(pieces, 1, blocks), whole)
