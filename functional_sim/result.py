"""What a simulation returns: output values, cycles, and the per-kernel timeline behind them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from functional_sim.timing import KernelRecord, SectionRecord
from functional_sim.trace import chrome_trace


@dataclass
class SimulationResult:
    outputs: list[np.ndarray]  # in `bs.outputs` order; empty when not executed; bf16 as float32
    cycles: int  # one run; a one-section program's load is `setup_cycles`, paid once
    seconds: float
    kernels: list[KernelRecord]
    setup_cycles: int = 0
    sections: list[SectionRecord] = field(default_factory=list)
    tier_bytes: dict[str, int] = field(default_factory=dict)  # bytes moved by AGCUs, per tier
    chip: str = ""
    clock_hz: float = 1.0
    launch: str = "software"
    timing: str = "analytic"  # the engine behind the cycles: event or analytic

    def chrome_trace(self) -> dict[str, Any]:
        """Trace-event JSON (`{"traceEvents": [...]}`) for ui.perfetto.dev."""
        return chrome_trace(self)

    def summary(self) -> str:
        """A plain-text table of the kernels, for a terminal."""
        lines = [f"{self.cycles} cycles = {self.seconds * 1e6:.3f} us on {self.chip} ({self.launch} launch, {self.timing} timing)"]
        lines += [f"  section {s.name}: program load {s.load_cycles} cycles" for s in self.sections]
        for k in self.kernels:
            lines.append(
                f"  kernel {k.name}: {k.cycles} cycles from {k.start}, bound by {k.bound}"
                + (f" ({k.bound_by})" if k.bound_by and k.bound_by != k.bound else "") + " "
                f"(launch {k.launch_cycles}, fill {k.fill_cycles}, steady {k.steady_cycles})"
            )
            for stream, (configured, used) in sorted(k.fifo_growth.items()):
                lines.append(f"    FIFO of stream {stream} deepened from {configured} to {used} tiles: "
                             "its configured depth deadlocks a reconvergent path")
        lines += [f"  {tier}: {n} bytes moved" for tier, n in self.tier_bytes.items() if n]
        return "\n".join(lines)
