"""PyTorch's own operator samples (OpInfo `op_db`) as rducc test cases.

Each OpInfo sample (an input, positional and keyword arguments) becomes a tiny nn.Module whose
inputs are the sample's tensors; it goes through the whole chain (torch.export, import, passes,
bitstream, simulator) and its outputs are compared with eager within the dtype's tolerances.
Every sample ends in exactly one outcome, so nothing is skipped silently:

- `passed`: simulated outputs match eager;
- `unsupported`: rducc refused with the clean `error:` a user would see (an unsupported op named,
  a data-dependent shape that torch.export cannot capture, a model that does not fit the chip);
- `failed`: outputs differ, or rducc raised anything else (an internal error, or a bitstream our
  own simulator rejects): a bug;
- `not_applicable`: the sample is not a tensor program rducc takes as a model (eager itself
  raises, an output or input is not a tensor of a dtype rducc has, e.g. complex).

Index outputs of ops whose order among equal values is unspecified (`topk`, `sort`, `argmax`, ...)
are compared by the input values they select, as the issue asks.
"""

from __future__ import annotations

import math
import operator
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn
from torch.utils._pytree import tree_flatten, tree_unflatten

from compiler.compare import eager_leaves, tolerances_for, to_numpy
from chip_model import load_chip
from compiler.driver import CompileOptions
from compiler.frontend.importer import TORCH_DTYPES
from compiler.frontend.model_file import LoadedModel
from dialects.diagnostics import CapacityError, ExportError, UnsupportedOpError
from rducc_errors import UserError

OUTCOMES = ("passed", "unsupported", "failed", "not_applicable")
# The user errors that mean "rducc does not take this model" (the clean refusal); any other error
# on a sample that eager runs is a bug (e.g. a bitstream our own simulator rejects).
REFUSALS = (UnsupportedOpError, ExportError, CapacityError)

# Ops whose values are unspecified (uninitialised memory): only shapes and dtypes are compared.
UNSPECIFIED_VALUES = {"empty", "empty_like", "new_empty", "new_empty_strided", "empty_strided", "empty_permuted"}
# Ops whose index outputs may pick any of several equal values: compared by what they select.
TIE_BROKEN_INDICES = {"topk", "sort", "argsort", "argmax", "argmin", "max.reduction_with_dim",
                      "min.reduction_with_dim", "kthvalue", "mode", "msort", "median", "nanmedian"}


@lru_cache(maxsize=1)
def op_db() -> tuple:
    """PyTorch's operator database (imported lazily: it takes a few seconds and needs `expecttest`)."""
    from torch.testing._internal.common_methods_invocations import op_db as db

    return tuple(db)


def full_name(op: Any) -> str:
    """The OpInfo's name as PyTorch's tests spell it: `name` or `name.variant`."""
    return f"{op.name}.{op.variant_test_name}" if op.variant_test_name else op.name


def find_op(name: str) -> Any:
    for op in op_db():
        if full_name(op) == name:
            return op
    raise KeyError(name)


@dataclass
class SampleOutcome:
    op: str
    dtype: str
    index: int
    outcome: str  # one of OUTCOMES
    reason: str = ""  # the error line or mismatch description ("" when passed)
    aten_ops: list[str] = field(default_factory=list)  # the ops of its exported graph (empty if export failed)
    seconds: float = 0.0


_INPUT = object()  # marks a tensor leaf of a sample, which becomes a model input


class OpSample(nn.Module):
    """One OpInfo sample as a model: the sample's tensors are the model's inputs, everything else
    (Python numbers, dims, flags) is baked into the call."""

    def __init__(self, op: Any, sample: Any):
        super().__init__()
        self.op = op.op
        leaves, self.spec = tree_flatten((sample.input, sample.args, sample.kwargs))
        self.constants = [_INPUT if isinstance(x, torch.Tensor) else x for x in leaves]
        self.inputs = tuple(x for x in leaves if isinstance(x, torch.Tensor))
        self.args, self.kwargs = sample.args, sample.kwargs  # for the dim of tie-broken index outputs

    def forward(self, *tensors: torch.Tensor) -> Any:
        it = iter(tensors)
        leaves = [next(it) if c is _INPUT else c for c in self.constants]
        first, args, kwargs = tree_unflatten(leaves, self.spec)
        return self.op(first, *args, **kwargs)


def samples(op: Any, dtype: torch.dtype, limit: int | None) -> Iterator[Any]:
    """The first `limit` samples of `op` in `dtype`, seeded so every run sees the same values."""
    torch.manual_seed(0)
    for i, sample in enumerate(op.sample_inputs("cpu", dtype, requires_grad=False)):
        if limit is not None and i >= limit:
            return
        yield sample


def _not_applicable(module: OpSample) -> str:
    bad = [t.dtype for t in module.inputs if t.dtype not in TORCH_DTYPES]
    if bad:
        return f"input dtype {bad[0]}"
    if not module.inputs:
        return "no tensor input"
    if any(t.is_sparse or t.layout != torch.strided for t in module.inputs):
        return "non-strided input"
    return ""


def run_sample(op: Any, sample: Any, dtype: torch.dtype, index: int, opt_level: int = 1, chip: str = "small") -> SampleOutcome:
    """Compile and simulate one sample; its outcome (never raises for a sample's own failure)."""
    name, dtype_name = full_name(op), str(dtype).removeprefix("torch.")
    outcome = SampleOutcome(name, dtype_name, index, "failed")
    module = OpSample(op, sample)
    t0 = time.perf_counter()
    try:
        skip = _not_applicable(module)
        if not skip:
            try:
                with torch.no_grad():
                    eager = module(*module.inputs)
            except Exception as exc:  # a sample PyTorch itself rejects (error-input samples)
                skip = f"eager raised {type(exc).__name__}"
        if not skip:
            leaves = tree_flatten(eager)[0]
            if not leaves or any(not isinstance(x, torch.Tensor) for x in leaves):
                skip = "an output is not a tensor"
            elif any(x.dtype not in TORCH_DTYPES for x in leaves):
                skip = f"output dtype {next(x.dtype for x in leaves if x.dtype not in TORCH_DTYPES)}"
        if skip:
            outcome.outcome, outcome.reason = "not_applicable", skip
            return outcome
        outcome.outcome, outcome.reason = _compile_and_compare(name, module, opt_level, chip, outcome)
    except REFUSALS as exc:
        outcome.outcome, outcome.reason = "unsupported", str(exc)
    except UserError as exc:  # a bitstream our own simulator rejects, or another user error: a bug here
        outcome.outcome, outcome.reason = "failed", f"{type(exc).__name__}: {exc}"[:300]
    except Exception as exc:  # a bug in rducc: counted as a failure with its type and message
        first = (str(exc).strip().splitlines() or [""])[0]
        outcome.outcome, outcome.reason = "failed", f"internal error: {type(exc).__name__}: {first}"[:300]
    finally:
        outcome.seconds = time.perf_counter() - t0
    return outcome


def _compile_and_compare(name: str, module: OpSample, opt_level: int, chip: str, outcome: SampleOutcome) -> tuple[str, str]:
    """compile_loaded's steps, one by one so that the sample's ATen ops are known even when the
    import refuses them."""
    from backend_rdu.emit_bitstream import emit_bitstream
    from compiler.driver import import_named, lower_to_hardware
    from compiler.frontend.capture import capture
    from compiler.frontend.model_file import run_eager
    from functional_sim import simulate

    loaded = LoadedModel(Path(f"opinfo_{name.replace('.', '_')}.py"), module.eval(), module.inputs)
    eager = run_eager(loaded)
    program = capture(loaded)
    outcome.aten_ops = sorted({str(n.target) for n in program.graph_module.graph.nodes
                               if n.op == "call_function" and n.target is not operator.getitem})
    graph = import_named(loaded, program)
    options = CompileOptions(chip=chip, opt_level=opt_level, placer="greedy")
    bitstream = emit_bitstream(lower_to_hardware(graph, options))
    sim = simulate(bitstream, [to_numpy(t) for t in module.inputs], chip=load_chip(chip), timing="analytic")
    reference = eager_leaves(eager)
    if len(sim.outputs) != len(reference):
        return "failed", f"{len(sim.outputs)} outputs, eager has {len(reference)}"
    problems = []
    exact: list | None = None
    for i, (got, want) in enumerate(zip(sim.outputs, reference)):
        if name in UNSPECIFIED_VALUES:
            want = torch.zeros_like(want)
            got = np.zeros_like(got)
        problem = _compare(got, want)
        if problem and want.dtype in (torch.bfloat16, torch.float16):
            exact = _exact_outputs(module) if exact is None else exact
            if exact and _no_farther_than_eager(got, want, exact[i]):
                problem = ""
        if problem and name.split(".")[0] in {n.split(".")[0] for n in TIE_BROKEN_INDICES}:
            problem = _compare_selected(module, sim.outputs, reference, i, problem)
        if problem:
            problems.append(f"output {i}: {problem}")
    return ("failed", "; ".join(problems)) if problems else ("passed", "")


def _compare(got: np.ndarray, want_t: torch.Tensor) -> str:
    """'' when `got` matches eager's `want_t` within its dtype's tolerances, else why not."""
    want = to_numpy(want_t)
    if tuple(got.shape) != tuple(want.shape):
        return f"shape {tuple(got.shape)} != {tuple(want.shape)}"
    dtype = str(want_t.dtype).removeprefix("torch.")
    rtol, atol = tolerances_for(dtype)
    a, b = got.astype(np.float64), want.astype(np.float64)
    with np.errstate(all="ignore"):
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            return "NaNs in different places"
        if np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            return ""
        diff = np.abs(a - b)
        diff = diff[~np.isnan(diff)]
        worst = float(diff.max()) if diff.size else math.inf
    return f"{dtype} values differ by {worst:.3g} (rtol {rtol:g}, atol {atol:g})"


def _exact_outputs(module: OpSample) -> list:
    """The sample's outputs computed in float64 from the same inputs ([] if the op has no f64 kernel)."""
    wide = [t.double() if t.is_floating_point() else t for t in module.inputs]
    try:
        with torch.no_grad():
            return eager_leaves(module(*wide))
    except Exception:  # noqa: BLE001 - an op without a float64 kernel: no exact reference
        return []


def _no_farther_than_eager(got: np.ndarray, eager: torch.Tensor, exact: torch.Tensor) -> bool:
    """A bf16/f16 result that misses eager's by more than the dtype's tolerance still matches when
    every element is as close to the float64 result as eager's own (within the tolerance): eager
    rounds differently (e.g. bf16 `addbmm` rounds each batch's product), the simulator is not wrong."""
    if tuple(exact.shape) != tuple(got.shape) or not exact.is_floating_point():
        return False
    rtol, atol = tolerances_for(str(eager.dtype).removeprefix("torch."))
    truth = exact.numpy().astype(np.float64)
    ours = np.abs(got.astype(np.float64) - truth)
    theirs = np.abs(to_numpy(eager).astype(np.float64) - truth)
    with np.errstate(all="ignore"):
        ok = (ours <= theirs + atol + rtol * np.abs(truth)) | (np.isnan(ours) & np.isnan(theirs))
    return bool(ok.all())


def _compare_selected(module: OpSample, got: list, want: list, i: int, problem: str) -> str:
    """An index output that differs from eager's still matches when it selects the same input
    values (ties: several positions hold the same value)."""
    if want[i].dtype != torch.int64 or not module.inputs:
        return problem
    x = module.inputs[0]
    dim = _dim_of(module)
    if dim is None:
        return problem
    idx = torch.from_numpy(np.asarray(got[i])).long()
    ref = want[i]
    try:
        if x.dim() == 0:
            return "" if bool((idx == ref).all()) else problem
        keep = idx.dim() == x.dim()
        pick = (lambda j: x.gather(dim, j)) if keep else (lambda j: x.gather(dim, j.unsqueeze(dim)).squeeze(dim))
        if idx.shape != ref.shape:
            return problem
        same = torch.equal(pick(idx), pick(ref)) or bool(torch.isclose(pick(idx), pick(ref), equal_nan=True).all())
    except (RuntimeError, IndexError):
        return problem
    return "" if same else problem + " (and selects other values)"


def _dim_of(module: OpSample) -> int | None:
    """The dim argument of a tie-broken op's sample (`dim=`, or its int argument); None where
    the op reduces over the flattened input."""
    if "dim" in module.kwargs:
        return module.kwargs["dim"]
    op_name = getattr(module.op, "__name__", "")
    ints = [a for a in module.args if isinstance(a, int) and not isinstance(a, bool)]
    if op_name in ("topk", "kthvalue"):  # (input, k, dim=-1)
        return ints[1] if len(ints) > 1 else -1
    if op_name in ("sort", "argsort", "msort"):
        return ints[0] if ints else (0 if op_name == "msort" else -1)
    return ints[0] if ints else None


@dataclass
class OpResult:
    """The outcomes of one op's samples in one dtype."""

    op: str
    dtype: str
    outcomes: list[SampleOutcome] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    def first_reason(self, outcome: str) -> str:
        return next((o.reason for o in self.outcomes if o.outcome == outcome), "")


def run_op(op: Any, dtype: torch.dtype, limit: int | None = 3, opt_level: int = 1, chip: str = "small") -> OpResult:
    result = OpResult(full_name(op), str(dtype).removeprefix("torch."))
    for i, sample in enumerate(samples(op, dtype, limit)):
        result.outcomes.append(run_sample(op, sample, dtype, i, opt_level, chip))
    return result


def sweep_dtypes(op: Any, wanted: tuple[torch.dtype, ...] = (torch.float32, torch.bfloat16)) -> list[torch.dtype]:
    """The dtypes of `wanted` that PyTorch's CPU kernels of `op` support; an op with no float
    kernel (bitwise, logical) runs in int64, or bool, instead of being left out."""
    supported = op.supported_dtypes("cpu")
    floats = [d for d in wanted if d in supported]
    if floats or any(d.is_floating_point for d in supported):
        return floats
    fallback = next((d for d in (torch.int64, torch.bool, torch.int32) if d in supported), None)
    return [fallback] if fallback is not None else []


def sweep(names: list[str] | None = None, dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.bfloat16),
          limit: int | None = 3, opt_level: int = 1, chip: str = "small",
          progress: Any = None) -> list[OpResult]:
    """Every OpInfo (or those `names`) in each of `dtypes` it supports: its first `limit` samples."""
    ops = [op for op in op_db() if names is None or full_name(op) in names]
    results = []
    for n, op in enumerate(ops):
        for dtype in sweep_dtypes(op, dtypes):
            results.append(run_op(op, dtype, limit, opt_level, chip))
            if progress:
                progress(n, len(ops), results[-1])
    return results
