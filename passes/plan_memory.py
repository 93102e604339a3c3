"""`rdu-plan-memory`: give every off-chip tensor a tier and an address.

The paper's rules (SN40L section V-A): HBM by default; static lifetimes, so tensors whose lifetimes
do not overlap share addresses; when HBM is full, activations spill to DDR first, smallest
transfer (lowest bandwidth need) first, and weights stay in HBM as long as they can.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass

from dialects import rdu
from dialects.diagnostics import CapacityError
from dialects.rdu_attrs import Tier, TierAttr
from dialects.types import value_bytes
from passes.target import lowered_target_chip

ALIGN = 64


@dataclass
class Lifetime:
    tensor: rdu.TensorOp
    nbytes: int
    first: int
    last: int

    def overlaps(self, other: "Lifetime") -> bool:
        return self.first <= other.last and other.first <= self.last


def tensor_bytes(t: rdu.TensorOp) -> int:
    return value_bytes(t.result.type)


def lifetimes(module: ModuleOp) -> list[Lifetime]:
    """Kernel-index intervals in which each tensor must hold its value."""
    tensors = [op for op in module.body.block.ops if isinstance(op, rdu.TensorOp)]
    kernels = [op for op in module.body.block.ops if isinstance(op, rdu.KernelOp)]
    end = len(kernels)
    first = {t.result: -1 for t in tensors}
    last = {t.result: -1 for t in tensors}
    for k, kernel in enumerate(kernels):
        for stage in kernel.stages():
            if isinstance(stage, rdu.StoreOp) and first[stage.tensor] == -1:
                first[stage.tensor] = k
            elif isinstance(stage, (rdu.LoadOp, rdu.LoadRowsOp)):
                last[stage.tensor] = k
    out = []
    for t in tensors:
        role = t.role_name
        lo = first[t.result] if role in ("activation", "spill", "output") else -1
        hi = end if role in ("output", "weight", "constant", "state") else max(last[t.result], lo)
        out.append(Lifetime(t, tensor_bytes(t), lo, hi))
    return out


def first_fit(items: list[Lifetime]) -> tuple[dict[int, int], int]:
    """Offsets for intervals-with-sizes: largest first, lowest free address among overlapping ones."""
    placed: list[tuple[Lifetime, int]] = []
    offsets: dict[int, int] = {}
    peak = 0
    for item in sorted(items, key=lambda i: (-i.nbytes, i.first, i.tensor.sym_name.data)):
        busy = sorted((off, off + other.nbytes) for other, off in placed if other.overlaps(item))
        offset = 0
        for lo, hi in busy:
            if offset + item.nbytes <= lo:
                break
            offset = max(offset, -(-hi // ALIGN) * ALIGN)
        placed.append((item, offset))
        offsets[id(item)] = offset
        peak = max(peak, offset + item.nbytes)
    return offsets, peak


def _whose(module: ModuleOp) -> str:
    """Who needs the memory: the model, or on a node one socket's shard of it (rdu-shard)."""
    from passes.shard import node_of, tp_of

    tp = tp_of(module)
    if tp == 1:
        return "the model"
    node = node_of(module)
    return f"one socket's shard of the model (tp={tp}{f' on {node}' if node else ''})"


@dataclass(frozen=True)
class PlanMemoryPass(ModulePass):
    name = "rdu-plan-memory"

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        chip = lowered_target_chip(module, "rdu-plan-memory")
        hbm, ddr = chip.tier("hbm"), chip.tier("ddr")
        whose = _whose(module)
        items = lifetimes(module)
        # State (a KV cache) persists between runs and between the programs that share it (prefill
        # and decode): it gets the bottom of HBM, in name order, so every program that holds the
        # same state puts it at the same addresses; nothing else is placed there.
        states = sorted((i for i in items if i.tensor.role_name == "state"), key=lambda i: i.tensor.sym_name.data)
        base = 0
        for item in states:
            item.tensor.tier = TierAttr(Tier.HBM)
            item.tensor.offset = IntegerAttr(base, i64)
            base = -(-(base + item.nbytes) // ALIGN) * ALIGN
        if base > hbm.capacity_bytes:
            raise CapacityError(f"{whose}'s state (KV cache) needs {base:,} bytes of HBM but chip {chip.name!r} has "
                                f"{hbm.capacity_bytes:,}")
        items = [i for i in items if i.tensor.role_name != "state"]
        hbm_capacity = hbm.capacity_bytes - base
        for item in items:
            if item.nbytes > max(hbm.capacity_bytes, ddr.capacity_bytes):
                raise CapacityError(
                    f"tensor {item.tensor.sym_name.data!r} needs {item.nbytes:,} bytes but the largest tier holds "
                    f"{max(hbm.capacity_bytes, ddr.capacity_bytes):,} (HBM {hbm.capacity_bytes:,}, DDR {ddr.capacity_bytes:,})",
                    rdu.source_text(item.tensor),
                )
        # Spill order: activations (inputs and outputs included) before weights, smallest first.
        candidates = sorted(items, key=lambda i: (i.tensor.role_name in ("weight", "constant"), i.nbytes))
        in_hbm = list(items)
        in_ddr: list[Lifetime] = []
        offsets, peak = first_fit(in_hbm)
        while peak > hbm_capacity:
            excess = peak - hbm_capacity
            moved = 0
            while moved < excess and candidates:
                item = candidates.pop(0)
                if item.nbytes == 0 or item not in in_hbm:
                    continue
                in_hbm.remove(item)
                in_ddr.append(item)
                moved += item.nbytes
            if moved == 0:
                break
            offsets, peak = first_fit(in_hbm)
        # A round spills until the bytes moved cover the excess, which can overshoot: bring back
        # whatever fits again, the tensors that most want HBM (last in the spill order) first.
        if peak <= hbm_capacity:
            for item in reversed(list(in_ddr)):
                trial_offsets, trial_peak = first_fit([*in_hbm, item])
                if trial_peak <= hbm_capacity:
                    in_hbm.append(item)
                    in_ddr.remove(item)
                    offsets, peak = trial_offsets, trial_peak
        ddr_offsets, ddr_peak = first_fit(in_ddr)
        if peak > hbm_capacity or ddr_peak > ddr.capacity_bytes:
            total = sum(i.nbytes for i in items)
            raise CapacityError(
                f"{whose} needs {total:,} bytes of tensors (peak HBM {peak + base:,}, DDR {ddr_peak:,}) but chip "
                f"{chip.name!r} has HBM {hbm.capacity_bytes:,} and DDR {ddr.capacity_bytes:,} bytes"
            )
        for tier, plan, placed, start in ((Tier.HBM, offsets, in_hbm, base), (Tier.DDR, ddr_offsets, in_ddr, 0)):
            for item in placed:
                item.tensor.tier = TierAttr(tier)
                item.tensor.offset = IntegerAttr(start + plan[id(item)], i64)
