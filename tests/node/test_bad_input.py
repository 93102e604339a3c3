"""Issue 12's bad input not covered beside its feature: a node file missing a figure, and a model
whose shard does not fit one socket's memories, each one `error:` line naming the cause and the
figures, exit 2, nothing written. (A TP degree that does not divide the heads, more sockets than
the node has, an unknown topology: tests/node/test_node_program.py, tests/generate/test_cli.py.)"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from chip_model.node import load_node
from compiler.cli import main
from tests.node.cli_errors import one_error as _one_error

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[1] / "examples"


def test_node_file_missing_a_figure(tmp_path: Path) -> None:
    text = Path(load_node("small-node8").source).read_text()
    line = next(x for x in text.splitlines() if x.startswith("link_bytes_per_second"))
    bad = tmp_path / "no-bandwidth.toml"
    bad.write_text(text.replace(line + "\n", ""))
    out = tmp_path / "out.rbit"
    _one_error(CliRunner().invoke(main, [str(EXAMPLES / "mlp.py"), "-o", str(out), "--node", str(bad), "--tp", "2"]),
               "missing figure 'link_bytes_per_second'")
    assert not out.exists()


def test_shard_that_fits_no_socket(tmp_path: Path) -> None:
    out = tmp_path / "out.rbit"
    result = CliRunner().invoke(main, [str(HERE / "big_mlp.py"), "-o", str(out), "--node", "small-node8", "--tp", "2"])
    _one_error(result, "one socket's shard of the model (tp=2 on small-node8) needs 8,590,196,736 bytes of tensors",
               "but chip 'small' has HBM 268,435,456 and DDR 4,294,967,296 bytes")
    assert not out.exists()
