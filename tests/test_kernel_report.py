"""`rducc run`'s kernel rows name what bounds a kernel: with event timing, the critical path's resource and its share."""

from __future__ import annotations

from compiler.run_model import kernel_row
from functional_sim import simulate
from tests.sim.builder import ProgramBuilder


def matmul_program():
    pb = ProgramBuilder()
    a = pb.tensor("a", "f32", (64, 64), role="input")
    k = pb.kernel("mm")
    la = k.load(a)
    k.store(k.op("matmul", la, la, out=("f32", (64, 64)), label="mm"), pb.tensor("c", "f32", (64, 64), role="output"))
    return pb.build()


def test_event_row_names_the_critical_resource_and_its_share() -> None:
    rec = simulate(matmul_program(), [], execute=False).kernels[0]
    row = kernel_row(rec)
    assert rec.bound_share > 0.5
    assert row["limiting"] == f"stage 'mm' (id 1): {rec.bound_share:.0%} of the critical path"
    assert (row["bound"], row["bound_by"], row["bound_share"]) == ("compute", "stage 'mm' (id 1)", rec.bound_share)


def test_analytic_row_names_the_slowest_stage() -> None:
    rec = simulate(matmul_program(), [], execute=False, timing="analytic").kernels[0]
    row = kernel_row(rec)
    assert rec.bound_share == 0 and row["limiting"] == "mm on 1 PCUs"
