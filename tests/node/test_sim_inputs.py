"""`rducc sim NODE.rbit --inputs whole.npz -o out.npz`: a node program takes whole-model inputs,
gives each socket its part of a split input (a KV cache input by KV head) and the whole of a
replicated one, and writes whole outputs; a missing or mis-shaped input is one `error:` line,
exit 2, and no output file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import bitstream_format
from compiler.cli import main
from tests.node import decode_model
from tests.node.cli_errors import one_error as _error

MODEL = Path(decode_model.__file__)


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def node_program(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    """The decode step at TP 4 (2 KV heads: each cache input split in 2, each part held by 2
    sockets), and its whole inputs by name."""
    out = tmp_path_factory.mktemp("node") / "decode.rbit"
    result = _invoke(str(MODEL), "-o", str(out), "--node", "small-node8", "--tp", "4")
    assert result.exit_code == 0, result.output
    bs = bitstream_format.decode(out.read_bytes())
    names = [bs.tensor(t).name for t in bs.inputs]
    return out, {name: t.numpy() for name, t in zip(names, decode_model.example_inputs(), strict=True)}


def test_whole_inputs_are_split_per_socket_and_outputs_written_whole(node_program, tmp_path: Path) -> None:
    rbit, inputs = node_program
    bs = bitstream_format.decode(rbit.read_bytes())
    split = {bs.tensor(s.tensor).name: s for s in bs.node.shards if bs.tensor(s.tensor).role == "input"}
    assert sorted(split) == ["cache", "cache_1", "cache_2", "cache_3"]
    assert all(inputs[n].shape == s.whole_shape != tuple(bs.tensor(s.tensor).shape) for n, s in split.items())
    np.savez(tmp_path / "in.npz", **inputs)
    out = tmp_path / "out.npz"
    result = _invoke("sim", str(rbit), "--inputs", str(tmp_path / "in.npz"), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sockets"] == 4
    with torch.no_grad():
        want = decode_model.model()(*decode_model.example_inputs()).numpy()
    with np.load(out) as got:
        np.testing.assert_allclose(got["output0"], want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("change", "needles"), [
    (lambda d: d.pop("cache_3"), ("lacks input(s) 'cache_3'",)),
    (lambda d: d.update(cache=d["cache"][:, :1]),  # one socket's part instead of the whole cache
     ("input 'cache' has shape (1, 1, 8, 16) but the node program expects (1, 2, 8, 16) (split over its sockets)",)),
    (lambda d: d.update(x=d["x"][..., :32]), ("input 0 'x' has shape (1, 1, 32) but the bitstream expects (1, 1, 64)",)),
])
def test_missing_or_misshaped_input_is_one_error_and_writes_nothing(node_program, tmp_path: Path, change, needles) -> None:
    rbit, inputs = node_program
    inputs = dict(inputs)
    change(inputs)
    np.savez(tmp_path / "in.npz", **inputs)
    out = tmp_path / "out.npz"
    _error(_invoke("sim", str(rbit), "--inputs", str(tmp_path / "in.npz"), "-o", str(out)), *needles)
    assert not out.exists()
