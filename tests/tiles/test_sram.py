"""PMU SRAM is memory: after a run, each buffer's PMUs hold the last wave of its tiles at the slots
its write pattern names, and a program addressing past a PMU is stopped naming the stage."""

from __future__ import annotations

import numpy as np
import pytest

from chip_model import load_chip
from functional_sim import SimulationError
from functional_sim.dtypes import to_bytes
from functional_sim.simulator import TileMachine, bind_inputs
from functional_sim.sram import Scratchpad


def test_a_buffer_leaves_its_last_wave_in_its_pmus_at_the_pattern_addresses(mlp):
    bs = mlp.fresh()
    machine = TileMachine(bs, load_chip(bs.chip))
    for tid, data in [*bs.image.items(), *bind_inputs(bs, mlp.inputs)]:
        machine.memory.write_tensor(bs.tensor(tid), data)
    machine.run_kernel(bs.kernels[0])  # (later kernels may use the same PMUs)
    x_buffer = mlp.stage(bs, "buffer", 0)  # holds the input x: 8 tiles of 256 bytes
    assert x_buffer.kernel == bs.kernels[0].id
    prog = bs.tile_program(x_buffer.id)
    write, _ = prog.patterns
    data = np.frombuffer(to_bytes(mlp.inputs[0], "f32"), np.uint8)
    units, tile = len(x_buffer.sites), prog.tile[0]
    wave = units * write.count
    last_wave = range((prog.grid[0] - 1) // wave * wave, prog.grid[0])
    assert len(last_wave) < prog.grid[0]  # the ring was refilled: earlier tiles were overwritten
    for j in last_wave:
        pad = machine.tiles.sram.pad(x_buffer.sites[j % units])
        at = write.offset + ((j // units) % write.count) * write.stride
        assert bytes(pad.data[at: at + tile]) == data[j * tile: (j + 1) * tile].tobytes()


def test_a_scratchpad_refuses_addresses_past_its_capacity():
    pad = Scratchpad((1, 0), 1024)
    pad.reserve(1024, "stage 'b' (id 3, buffer)")
    with pytest.raises(SimulationError, match=r"^stage 'b' \(id 3, buffer\) addresses byte 1024 of PMU \(1, 0\), "
                                              r"which holds 1024 bytes$"):
        pad.reserve(1025, "stage 'b' (id 3, buffer)")
