"""`.npz` files for the `rducc sim` command line: inputs in, outputs out, named by tensor.

Outputs are written with `numpy.lib.format` into a zip by hand rather than with `np.savez`,
whose keyword arguments would collide with tensors named `file` or `allow_pickle`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from bitstream_format import Bitstream

from functional_sim.errors import SimulationError
from functional_sim.result import SimulationResult


def load_inputs_npz(path: str | Path, bs: Bitstream) -> list[np.ndarray]:
    """Arrays for `bs.inputs`, keyed by input tensor name, or positionally as arr_0, arr_1, ..."""
    names = [bs.tensor(tid).name for tid in bs.inputs]
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise SimulationError(f"{path} is a single .npy array, not an .npz archive of named inputs (use np.savez)")
        with loaded as npz:
            keys = set(npz.files)
            if set(names) <= keys and len(set(names)) == len(names):
                chosen = names
            elif {f"arr_{i}" for i in range(len(names))} <= keys:
                chosen = [f"arr_{i}" for i in range(len(names))]
            else:
                missing = sorted(set(names) - keys)
                raise SimulationError(
                    f"{path} lacks input(s) {', '.join(map(repr, missing))}: it holds {', '.join(sorted(keys)) or 'nothing'}"
                )
            return [npz[key] for key in chosen]
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        if isinstance(exc, SimulationError):
            raise
        reason = "it is not an .npz archive" if "pickle" in str(exc) else str(exc)
        raise SimulationError(f"cannot read inputs from {path}: {reason}") from exc


def output_names(bs: Bitstream) -> list[str]:
    """Output tensor names, made unique with the output index where two would collide."""
    names = [bs.tensor(tid).name or f"out_{i}" for i, tid in enumerate(bs.outputs)]
    return [n if names.count(n) == 1 else f"{n}_{i}" for i, n in enumerate(names)]


def save_outputs_npz(path: str | Path, result: SimulationResult, bs: Bitstream) -> None:
    """Write the outputs under their tensor names (bf16 outputs as float32, which holds them exactly)."""
    if len(result.outputs) != len(bs.outputs):
        raise SimulationError(
            f"the result holds {len(result.outputs)} output(s) but the bitstream has {len(bs.outputs)} "
            "(was it simulated with execute=False?)"
        )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, value in zip(output_names(bs), result.outputs):
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asarray(value), allow_pickle=False)
