"""Compare simulated outputs with PyTorch eager's, leaf by leaf, NaNs in the same places.

Tolerances depend on the output's dtype, as in `torch.testing.assert_close`: a bf16 result one
bf16 step away from eager's is a match, an f32 one is not. Our f32 default is looser than
torch.testing's (1.3e-6) because the simulator sums in a different order than eager's kernels
(tiled reductions, fused epilogues); the caller can override both figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils._pytree import tree_leaves

# dtype name (torch's spelling, as in OutputComparison.dtype) -> (rtol, atol)
TOLERANCES: dict[str, tuple[float, float]] = {
    "float64": (1e-7, 1e-7),
    "float32": (1e-4, 1e-5),
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
}
EXACT = (0.0, 0.0)  # integers and booleans


def tolerances_for(dtype: str, rtol: float | None = None, atol: float | None = None) -> tuple[float, float]:
    """(rtol, atol) for an output of torch dtype name `dtype`; either may be overridden."""
    default_rtol, default_atol = TOLERANCES.get(dtype, EXACT)
    return (default_rtol if rtol is None else rtol, default_atol if atol is None else atol)


@dataclass(frozen=True)
class OutputComparison:
    index: int
    shape: tuple[int, ...]
    dtype: str
    allclose: bool
    max_abs_error: float
    reason: str = ""
    rtol: float = 0.0
    atol: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "shape": list(self.shape), "dtype": self.dtype, "allclose": self.allclose,
                "max_abs_error": self.max_abs_error, "rtol": self.rtol, "atol": self.atol,
                **({"reason": self.reason} if self.reason else {})}


def to_numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        t = t.float()
    return t.numpy()


def eager_leaves(outputs: Any) -> list[torch.Tensor]:
    return [leaf for leaf in tree_leaves(outputs) if isinstance(leaf, torch.Tensor)]


def compare_outputs(simulated: list[np.ndarray], reference: list[torch.Tensor],
                    rtol: float | None = None, atol: float | None = None) -> list[OutputComparison]:
    """One comparison per output leaf; `rtol`/`atol` override the dtype's defaults (TOLERANCES)."""
    if len(simulated) != len(reference):
        raise ValueError(f"the simulator returned {len(simulated)} outputs, PyTorch {len(reference)}")
    rows = []
    for i, (sim, ref_t) in enumerate(zip(simulated, reference)):
        ref = to_numpy(ref_t)
        dtype = str(ref_t.dtype).removeprefix("torch.")
        tol = tolerances_for(dtype, rtol, atol)
        if sim.shape != ref.shape:
            rows.append(OutputComparison(i, ref.shape, dtype, False, float("inf"), f"shape {sim.shape} != {ref.shape}", *tol))
            continue
        with np.errstate(all="ignore"):
            rows.append(_compare_one(i, sim, ref, dtype, *tol))
    return rows


def _compare_one(i: int, sim: np.ndarray, ref: np.ndarray, dtype: str, rtol: float, atol: float) -> OutputComparison:
    a, b = sim.astype(np.float64), ref.astype(np.float64)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    same_nans = bool(np.array_equal(nan_a, nan_b))
    finite = ~(nan_a | nan_b)
    diff = np.abs(a - b)[finite]
    inf_equal = np.array_equal(np.isinf(a) & finite, np.isinf(b) & finite)
    max_err = float(np.nanmax(np.where(np.isinf(diff), 0.0, diff))) if diff.size else 0.0
    ok = same_nans and inf_equal and bool(np.allclose(a[finite], b[finite], rtol=rtol, atol=atol))
    reason = "" if ok else ("NaNs in different places" if not same_nans else "values differ")
    return OutputComparison(i, tuple(ref.shape), dtype, ok, max_err, reason, rtol, atol)
