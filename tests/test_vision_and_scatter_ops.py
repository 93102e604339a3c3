"""Vision, sorting and scatter ops (issue 10), each in a small model compiled at -O0 and -O1,
simulated from the bitstream and compared with PyTorch eager; BART's default decoder inputs
(shift_tokens_right: copy, slice_scatter, masked fill); what the lowering looks like (implicit
GEMM, batch norm folded at -O1); and the messages of the forms we refuse."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from compiler.run_model import run_compiled
from dialects import rgraph
from dialects.diagnostics import UnsupportedOpError


def _run(name: str, model: nn.Module, inputs: tuple, opt_level: int = 1):
    report = run_compiled(compile_loaded(LoadedModel(Path(f"{name}.py"), model.eval(), inputs),
                                         CompileOptions(chip="small", opt_level=opt_level)))
    assert report.allclose, report.to_text()
    return report


class Fn(nn.Module):
    def __init__(self, fn, **modules: nn.Module):
        super().__init__()
        self.fn = fn
        for k, m in modules.items():
            self.add_module(k, m)

    def forward(self, *xs: torch.Tensor):
        return self.fn(self, *xs)


def _bn(channels: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    return bn.eval()


torch.manual_seed(0)
IMAGE = torch.randn(2, 4, 9, 9)
SEQUENCE = torch.randn(2, 4, 11)
CASES = {
    "conv2d_stride_padding_bias": (Fn(lambda s, x: s.c(x), c=nn.Conv2d(4, 6, 3, stride=2, padding=1)), (IMAGE,)),
    "conv2d_dilation_asymmetric": (Fn(lambda s, x: s.c(x), c=nn.Conv2d(4, 5, (3, 2), padding=(2, 1), dilation=(2, 1))), (IMAGE,)),
    "conv2d_groups": (Fn(lambda s, x: s.c(x), c=nn.Conv2d(4, 6, 3, groups=2, bias=False)), (IMAGE,)),
    "conv2d_depthwise": (Fn(lambda s, x: s.c(x), c=nn.Conv2d(4, 8, 3, padding=1, groups=4)), (IMAGE,)),
    "conv1d": (Fn(lambda s, x: s.c(x), c=nn.Conv1d(4, 3, 3, stride=2, padding=2, dilation=2)), (SEQUENCE,)),
    "conv_batch_norm_relu": (Fn(lambda s, x: torch.relu(s.bn(s.c(x))), c=nn.Conv2d(4, 6, 3), bn=_bn(6)), (IMAGE,)),
    "batch_norm_alone": (Fn(lambda s, x: s.bn(x + 1), bn=_bn(4)), (IMAGE,)),
    "batch_norm_1d": (Fn(lambda s, x: s.bn(x), bn=nn.BatchNorm1d(4).eval()), (torch.randn(3, 4),)),
    "max_pool_with_indices": (Fn(lambda s, x: F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)), (IMAGE,)),
    "max_pool_dilated": (Fn(lambda s, x: F.max_pool2d(x, 2, dilation=2)), (IMAGE,)),
    "max_pool_ceil_mode": (Fn(lambda s, x: F.max_pool2d(x, 2, stride=2, padding=1, ceil_mode=True, return_indices=True)),
                           (torch.randn(2, 3, 8, 7),)),
    "conv_transpose": (Fn(lambda s, x: s.c(x), c=nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)),
                       (IMAGE,)),
    "conv3d": (Fn(lambda s, x: s.c(x), c=nn.Conv3d(2, 3, 3, stride=(1, 2, 1), padding=1)), (torch.randn(1, 2, 4, 5, 6),)),
    "avg_pool_exclude_pad": (Fn(lambda s, x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)), (IMAGE,)),
    "avg_pool_divisor": (Fn(lambda s, x: F.avg_pool2d(x, 2, divisor_override=3)), (IMAGE,)),
    "adaptive_avg_pool": (Fn(lambda s, x: (F.adaptive_avg_pool2d(x, (4, 3)), F.adaptive_avg_pool2d(x, 1))), (IMAGE,)),
    "upsample_nearest": (Fn(lambda s, x: (F.interpolate(x, scale_factor=2), F.interpolate(x, size=(5, 13)))), (IMAGE,)),
    "upsample_bilinear": (Fn(lambda s, x: (F.interpolate(x, scale_factor=1.5, mode="bilinear"),
                                            F.interpolate(x, size=(4, 12), mode="bilinear", align_corners=True))), (IMAGE,)),
    "pixel_shuffle": (Fn(lambda s, x: F.pixel_shuffle(x, 2)), (IMAGE,)),
    "sort_argsort": (Fn(lambda s, x: (*torch.sort(x, dim=0), torch.argsort(x, dim=-1, descending=True),
                                      torch.sort(x, dim=0, descending=True, stable=True).indices)), (torch.randint(0, 4, (5, 6)).float(),)),
    "slice_scatter_copy": (Fn(lambda s, x: _shift_right(x)), (torch.randn(3, 7),)),
    "index_put": (Fn(lambda s, x, i: (x.index_put((i,), torch.ones(4)), x.index_put((i,), x[:3] * 2, accumulate=True))),
                  (torch.randn(6, 4), torch.tensor([4, 1, 4]))),
    "index_put_mask": (Fn(lambda s, x: _mask_put(x)), (torch.randn(5, 3),)),
    "scatter": (Fn(lambda s, x, i: (torch.zeros(3, 5).scatter(1, i, x), torch.zeros(3, 5).scatter_add(1, i, x),
                                    torch.zeros(3, 5).scatter(1, i, 2.5))),
                (torch.randn(3, 2), torch.tensor([[0, 4], [2, 2], [1, 3]]))),
}


def _shift_right(x: torch.Tensor) -> torch.Tensor:
    out = x.new_zeros(x.shape)
    out[:, 1:] = x[:, :-1].clone()
    out[:, 0] = 7.0
    out[1, 2:6:2] = x[0, :2]
    return out


def _mask_put(x: torch.Tensor) -> torch.Tensor:
    y = x.clone()
    y[x[:, 0] > 0] = -1.0
    return y


# Unfused (-O0) runs for one case of each new opcode; every case runs fused (-O1).
UNFUSED = ("conv2d_groups", "conv_batch_norm_relu", "max_pool_with_indices", "sort_argsort", "slice_scatter_copy",
           "index_put", "scatter")


@pytest.mark.parametrize(("name", "opt_level"), [(n, 1) for n in sorted(CASES)] + [(n, 0) for n in UNFUSED])
def test_op_matches_pytorch(name: str, opt_level: int) -> None:
    model, inputs = CASES[name]
    _run(name, model, inputs, opt_level)


def _compiled(model: nn.Module, inputs: tuple, opt_level: int):
    return compile_loaded(LoadedModel(Path("m.py"), model.eval(), inputs), CompileOptions(chip="small", opt_level=opt_level))


def _opcodes(result) -> list[str]:
    return [s.opcode for s in result.bitstream.stages if s.unit != "agcu" and s.opcode]


def test_convolution_is_an_implicit_gemm_and_batch_norm_folds_at_o1() -> None:
    model, inputs = CASES["conv_batch_norm_relu"]
    imported = [type(op) for op in _compiled(model, inputs, 0).graph.module.walk()]
    assert rgraph.Im2colOp in imported and rgraph.MatmulOp in imported and rgraph.BatchNormOp in imported
    assert "batch_norm" in _opcodes(_compiled(model, inputs, 0))
    folded = _opcodes(_compiled(model, inputs, 1))
    assert "batch_norm" not in folded and "im2col" in folded and "matmul" in folded


def test_bart_default_decoder_inputs_match() -> None:
    """BartModel without decoder ids builds them with shift_tokens_right (copy, slice_scatter, masked fill)."""
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BartConfig(vocab_size=128, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=4,
                                  decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
                                  max_position_embeddings=64, use_cache=False, attn_implementation="eager")
    torch.manual_seed(0)
    bart = transformers.BartModel(cfg).eval()
    ids = torch.randint(3, 128, (2, 10), generator=torch.Generator().manual_seed(1))
    default_ids = Fn(lambda s, i: s.m(input_ids=i).last_hidden_state, m=bart)
    explicit_ids = Fn(lambda s, i, d: s.m(input_ids=i, decoder_input_ids=d).last_hidden_state, m=bart)
    report = _run("bart", default_ids, (ids,))
    assert report.cycles > 0
    _run("bart_explicit", explicit_ids, (ids, ids[:, :7]))


@pytest.mark.parametrize(("model", "message"), [
    (Fn(lambda s, x: F.avg_pool2d(x, 2, ceil_mode=True)), "ceil_mode windows that overhang the input are not supported"),
    (Fn(lambda s, x: x.scatter_reduce(0, torch.zeros(2, 9, 9, dtype=torch.long).unsqueeze(1).expand(2, 4, 9, 9), x, "amax")),
     "unsupported op"),
])
def test_unsupported_forms_say_what(model: nn.Module, message: str) -> None:
    with pytest.raises(UnsupportedOpError, match=message):
        _compiled(model, (IMAGE,), 1)
