"""Greedy generation with a static KV cache in the simulated HBM equals PyTorch's, token for token,
on the bundled tiny Hugging Face models; the decode step writes only the new rows into the cache."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from compiler.driver import CompileOptions  # noqa: E402
from compiler.frontend.model_file import load_model_file  # noqa: E402
from compiler.generate import GenerateOptions, cached_model, compile_program, generate, reference_tokens  # noqa: E402
from functional_sim.session import Session  # noqa: E402
from functional_sim.timing import agcu_tier_bytes  # noqa: E402

EXAMPLES = Path(__file__).parents[2] / "examples"
PROMPT = [[17, 200, 3, 96, 45]]
SMALL = GenerateOptions(CompileOptions(chip="small"))


@pytest.mark.parametrize("name", ["llama", "qwen2", "mixtral"])
def test_greedy_tokens_match_pytorch(name: str) -> None:
    tokens, report = generate(EXAMPLES / f"{name}.py", PROMPT, 4, SMALL)
    assert tokens == report.reference_tokens and report.match
    assert len(tokens) == 4 and report.cache_len == 5 + 4 - 1
    assert len(report.step_cycles) == 3 and len(set(report.step_cycles)) == 1 and report.step_cycles[0] > 0
    # 2 layers x (K, V) x 1 new row of (kv_heads x head_dim) f32 per step
    config = load_model_file(EXAMPLES / f"{name}.py").module.config
    head_dim = config.hidden_size // config.num_attention_heads
    assert report.row_bytes_per_step == config.num_hidden_layers * 2 * config.num_key_value_heads * head_dim * 4


def test_the_reference_is_transformers_generate() -> None:
    """Our eager reference (the cache wrapper) decodes as transformers' own greedy generate does."""
    model = load_model_file(EXAMPLES / "llama.py").module
    prompt = torch.tensor(PROMPT)
    theirs = model.generate(prompt, max_new_tokens=6, do_sample=False, min_new_tokens=6)[0, prompt.shape[1]:].tolist()
    assert reference_tokens(cached_model(model, 16), prompt, 6) == theirs


@pytest.fixture(scope="module")
def llama_programs():
    model = load_model_file(EXAMPLES / "llama.py").module
    wrapper = cached_model(model, 12)
    prompt = torch.tensor(PROMPT)
    options = CompileOptions(chip="small")
    prefill = compile_program(wrapper, Path("llama_prefill.py"), prompt, torch.arange(5), options)
    decode = compile_program(wrapper, Path("llama_decode.py"), prompt[:, :1], torch.tensor([0]), options)
    return wrapper, prompt, prefill, decode


def test_programs_share_the_cache_and_nothing_else_is_placed_there(llama_programs) -> None:
    _, _, prefill, decode = llama_programs
    states = [{t.name: (t.tier, t.offset, t.nbytes) for t in bs.tensors if t.role == "state"} for bs in (prefill, decode)]
    assert states[0] == states[1] and len(states[1]) == 4  # K and V of 2 layers
    for bs in (prefill, decode):
        end = max(offset + nbytes for _, offset, nbytes in states[1].values())
        others = [t for t in bs.tensors if t.role != "state" and t.tier == "hbm" and t.nbytes]
        assert all(t.offset >= end for t in others)


def test_decode_step_moves_rows_not_the_cache(llama_programs) -> None:
    _, _, _, decode = llama_programs
    state_ids = {t.id for t in decode.tensors if t.role == "state"}
    writes = [s for s in decode.stages if s.tensor in state_ids and s.opcode != "load"]
    assert sorted({s.opcode for s in writes}) == ["store_rows"] and len(writes) == 4
    for s in writes:
        tier, moved = agcu_tier_bytes(decode, s)
        assert (tier, moved) == ("hbm", 2 * 16 * 4)  # one row: 2 kv heads x head_dim 16 x f32
    # the merged cache the attention reads stays on chip: no activation the size of a cache is stored
    cache_bytes = {decode.tensor(t).nbytes for t in state_ids}
    assert not [s for s in decode.stages if s.opcode == "store" and decode.tensor(s.tensor).nbytes in cache_bytes]


def _rows_first(bs):
    """The same program with every store_rows stage listed right after the stages that produce its
    rows and index, and each load of a cache right before the stage that first reads it: every row
    is stored before its cache is loaded, the opposite of the compiler's order."""
    stages = {s.id: s for s in bs.stages}
    producer = {st.id: st.src for st in bs.streams}
    states = {t.id for t in bs.tensors if t.role == "state"}
    kernels = []
    for k in bs.kernels:
        moving = [i for i in k.stages if stages[i].opcode == "store_rows"
                  or (stages[i].opcode == "load" and stages[i].tensor in states)]
        order = [i for i in k.stages if i not in moving]
        for sid in (i for i in moving if stages[i].opcode == "store_rows"):
            after = max(order.index(producer[j]) for j in stages[sid].inputs)
            order.insert(after + 1, sid)
        for sid in (i for i in moving if stages[i].opcode == "load"):
            readers = {i for st in bs.streams if st.src == sid for i in st.dsts}
            order.insert(min(order.index(i) for i in readers), sid)
        kernels.append(dataclasses.replace(k, stages=tuple(order)))
    return dataclasses.replace(bs, kernels=kernels)


def test_cache_rows_stored_before_or_after_the_cache_load_give_the_same_tokens(llama_programs) -> None:
    """Aliasing: the kernel that appends a row also loads the whole cache. The model reads the cache
    only through the merge that replaces exactly the rows written, so whether the load sees the old
    or the new row cannot change any value: both orders run to the same logits, step after step."""
    wrapper, prompt, prefill, decode = llama_programs
    reordered = _rows_first(decode)
    loads_after = 0
    for k in reordered.kernels:
        ids = list(k.stages)
        for sid in ids:
            s = reordered.stage(sid)
            if s.opcode == "store_rows":
                cache_load = next(i for i in ids if reordered.stage(i).opcode == "load" and reordered.stage(i).tensor == s.tensor)
                loads_after += ids.index(cache_load) > ids.index(sid)
    assert loads_after == 4  # the reordering does put every row store ahead of its cache load
    logits = []
    for program in (decode, reordered):
        session = Session("small")
        session.run(prefill, [prompt.numpy(), np.arange(5)])
        steps = [session.run(program, [np.array([[t]]), np.array([5 + i])]).outputs[0] for i, t in enumerate([7, 99, 3])]
        logits.append(np.stack(steps))
    np.testing.assert_array_equal(logits[0], logits[1])
    want = []
    wrapper.reset()
    with torch.no_grad():
        wrapper(prompt, torch.arange(5))
        for i, t in enumerate([7, 99, 3]):
            want.append(wrapper(torch.tensor([[t]]), torch.tensor([5 + i])).numpy())
    wrapper.reset()
    np.testing.assert_allclose(logits[0], np.stack(want), rtol=1e-4, atol=1e-5)


def test_the_cache_in_hbm_holds_what_pytorch_cached(llama_programs) -> None:
    wrapper, prompt, prefill, decode = llama_programs
    session = Session("small")
    session.run(prefill, [prompt.numpy(), np.arange(5)])
    session.run(decode, [np.array([[11]]), np.array([5])])
    wrapper.reset()
    with torch.no_grad():
        wrapper(prompt, torch.arange(5))
        wrapper(torch.tensor([[11]]), torch.tensor([5]))
    for name in ("key_cache_0", "value_cache_1"):
        ours, theirs = session.state(name), getattr(wrapper, name).numpy()
        np.testing.assert_allclose(ours[:, :, :6], theirs[:, :, :6], rtol=1e-4, atol=1e-5)
        assert not ours[:, :, 6:].any()  # rows never written keep the image's zeros
    wrapper.reset()
