"""`rdu-section`: group kernels into sections, the units of a program load.

A unit holds `chip.launch.config_slots` kernel configurations at once. Kernels are taken in
program order into the current section until some site would have to hold one configuration too
many; the next section then replaces the chip's configuration (and pays a program load). A graph
whose kernels need more of the chip than one load can hold runs as several sections in sequence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass

from dialects import rdu
from passes.target import lowered_target_chip


@dataclass(frozen=True)
class SectionPass(ModulePass):
    name = "rdu-section"

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        slots = lowered_target_chip(module, "rdu-section").launch.config_slots
        section, used = 0, Counter()
        for kernel in rdu.kernels(module):
            sites = {site for stage in kernel.stages() for site in stage.site_list()}
            if used and any(used[s] + 1 > slots for s in sites):
                section, used = section + 1, Counter()
            used.update(sites)
            kernel.section = IntegerAttr(section, i64)
