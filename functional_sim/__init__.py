"""Functional simulator of rducc bitstreams: executes a `.rbit` with numpy and estimates its cycles.

It reads only the bitstream and the chip spec (never the compiler or the model), so it checks
the backend against the contract in `bitstream_format` and docs/bitstream.md. Semantics and the
timing model are documented in docs/simulator.md.
"""

from functional_sim.errors import SimulationError
from functional_sim.io import load_inputs_npz, save_outputs_npz
from functional_sim.result import SimulationResult
from functional_sim.simulator import simulate
from functional_sim.timing import KernelRecord, SectionRecord, StageTiming

__all__ = [
    "KernelRecord",
    "SectionRecord",
    "SimulationError",
    "SimulationResult",
    "StageTiming",
    "load_inputs_npz",
    "save_outputs_npz",
    "simulate",
]
