"""-O0 as the paper's o0: one framework operator per kernel (`rdu-fuse{boundary=operator}`), read
off the module scopes the importer records, against the finer one-aten-op-per-kernel baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.workloads import Decoder
from compiler.driver import CompileOptions, compile_loaded, compile_model
from compiler.frontend.model_file import LoadedModel
from tests.node import decode_model

ROOT = Path(__file__).parents[2]

# bench.workloads' decoder layer, one kernel per operator: RMSNorm, each projection (with the
# reshape and transpose after it, which are views), the attention core (RoPE, the KV concat,
# scores, softmax, the product with V), the residual add, the SiLU, the gate-times-up product.
WORKLOAD_LAYER = ["norm1", "", "_2", "v", "_3", "o", "_4", "norm2", "gate", "_5", "up", "_6", "down", "_7"]


def _decoder(layers: int, granularity: str = "operator"):
    model = Decoder(decode_model.SHAPE, layers).eval()
    inputs = decode_model.example_inputs()[:4 + 2 * layers]
    return compile_loaded(LoadedModel(Path("decoder.py"), model, inputs),
                          CompileOptions(chip="sn40l", opt_level=0, o0_granularity=granularity))


def _expected(layer: int) -> list[str]:
    return [f"layers.{layer}" + (f".{n}" if n and not n.startswith("_") else n) for n in WORKLOAD_LAYER]


def test_a_llama_layer_is_one_kernel_per_operator() -> None:
    names = [k.name for k in _decoder(1).bitstream.kernels]
    assert names == _expected(0)


def test_operator_kernels_scale_with_layers_and_are_fewer_than_aten_ops() -> None:
    two = _decoder(2)
    assert [k.name for k in two.bitstream.kernels] == _expected(0) + _expected(1)
    aten = _decoder(2, "aten")
    assert len(aten.bitstream.kernels) > 3 * len(two.bitstream.kernels)


def test_hf_llama_layers_follow_the_modules() -> None:
    """The HF model's own modules: LlamaRMSNorm, q/k/v/o_proj, the attention core directly in
    LlamaAttention.forward, the residual adds of LlamaDecoderLayer, LlamaMLP's projections, act_fn
    and its product."""
    result = compile_model(ROOT / "examples" / "llama.py", CompileOptions(chip="sn40l", opt_level=0))
    names = [k.name for k in result.bitstream.kernels]
    layer = "model.layers.0"
    attn, mlp = f"{layer}.self_attn", f"{layer}.mlp"
    assert [n for n in names if n == layer or n.startswith(f"{layer}.") or n.startswith(f"{layer}_")] == [
        f"{layer}.input_layernorm", attn, f"{attn}_2", f"{attn}.v_proj", f"{attn}_3", f"{attn}.o_proj", layer,
        f"{layer}.post_attention_layernorm", f"{mlp}.gate_proj", f"{mlp}.act_fn", f"{mlp}.up_proj", mlp,
        f"{mlp}.down_proj", f"{layer}_2"]


def test_the_granularity_is_checked() -> None:
    with pytest.raises(ValueError, match="-O0 granularity 'op' is not available"):
        CompileOptions(opt_level=0, o0_granularity="op").pipeline()
