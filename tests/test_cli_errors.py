"""Every user-facing error path: one `error:` line naming the cause, exit code 2, no traceback,
and no output file left behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main

MODELS = Path(__file__).parent / "models"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def assert_user_error(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("model", "needles"),
    [
        ("missing.py", ["missing.py does not exist"]),
        ("syntax_error.py", ["syntax_error.py:3", "syntax error", "never closed"]),
        ("no_model.py", ["defines no module-level `model`"]),
        ("no_inputs.py", ["defines no module-level `example_inputs`"]),
        ("not_a_module.py", ["`model` is a int, not a torch.nn.Module"]),
        ("constructor_raises.py", ["constructor_raises.py:7", "RuntimeError: weights file missing"]),
        ("wrong_inputs.py", ["the example inputs do not fit the model", "2x7 and 4x4"]),
        ("forward_raises.py", ["forward_raises.py:7: raise ValueError(\"expected 8 features,\" f\" got {x.shape[-1]}\")",
                               "the model's forward raised ValueError: expected 8 features, got 4"]),
        ("unsupported_multiline.py", ["unsupported op aten.special_bessel_j0.default", "unsupported_multiline.py:7",
                                      "torch.special.bessel_j0(y + 1)"]),
        ("data_dependent.py", ["control flow that depends on tensor values", "data_dependent.py:6"]),
        ("unsupported_op.py", ["unsupported op aten.special_bessel_j0.default", "unsupported_op.py:7", "torch.special.bessel_j0"]),
        ("mask_indexing.py", ["shape depends on its values", "mask_indexing.py:6", "torch.where"]),
        ("too_large.py", ["chip 'small' has HBM 268,435,456 and DDR 4,294,967,296 bytes"]),
    ],
)
def test_bad_model_fails_cleanly(tmp_path: Path, model: str, needles: list[str]) -> None:
    out = tmp_path / "out.rbit"
    result = invoke(str(MODELS / model), "-o", str(out), "--chip", "small")
    assert_user_error(result, *needles)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_hf_cache_output_suggests_the_fix(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    result = invoke(str(MODELS / "hf_with_cache.py"), "-o", str(tmp_path / "o.rbit"), "--chip", "small")
    assert_user_error(result, "KV-cache", "use_cache=False")


def test_run_reports_the_same_errors() -> None:
    assert_user_error(invoke("run", str(MODELS / "unsupported_op.py"), "--chip", "small"), "aten.special_bessel_j0.default")


def test_unsupported_op_is_listed_by_ops() -> None:
    result = invoke("ops", str(MODELS / "unsupported_op.py"))
    assert result.exit_code == 2
    assert "!! aten.special_bessel_j0.default" in result.output
    assert "unsupported_op.py:7" in result.output


def test_unknown_chip() -> None:
    assert_user_error(invoke("chip", "tpu9"), "unknown chip 'tpu9'", "sn40l")


def test_bad_chip_spec(tmp_path: Path) -> None:
    spec = tmp_path / "broken.toml"
    spec.write_text('name = "broken"\nclock_hz = 1e9\n')
    assert_user_error(invoke("chip", str(spec)), "missing table [grid]")


def test_bad_pass_pipeline(tmp_path: Path) -> None:
    ir = tmp_path / "m.mlir"
    ir.write_text("builtin.module {}\n")
    assert_user_error(invoke("opt", str(ir), "-p", "rdu-nonsense"), "rdu-nonsense", "known passes")


def test_unparsable_ir(tmp_path: Path) -> None:
    ir = tmp_path / "m.mlir"
    ir.write_text("builtin.module { %0 = rgraph.bogus }\n")
    assert_user_error(invoke("opt", str(ir)))


@pytest.fixture(scope="module")
def mlp_bitstream(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bits") / "mlp.rbit"
    result = invoke(str(Path(__file__).parents[1] / "examples" / "mlp.py"), "-o", str(out), "--chip", "small")
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("command", ["sim", "inspect"])
def test_corrupted_bitstream(tmp_path: Path, mlp_bitstream: Path, command: str) -> None:
    data = bytearray(mlp_bitstream.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.rbit"
    bad.write_bytes(bytes(data))
    assert_user_error(invoke(command, str(bad)), f"{bad}: ", "checksum mismatch")


@pytest.mark.parametrize("command", ["sim", "inspect"])
def test_truncated_bitstream(tmp_path: Path, mlp_bitstream: Path, command: str) -> None:
    bad = tmp_path / "short.rbit"
    bad.write_bytes(mlp_bitstream.read_bytes()[:1000])
    assert_user_error(invoke(command, str(bad)), f"{bad}: ", "truncated")


def test_not_a_bitstream(tmp_path: Path) -> None:
    bad = tmp_path / "x.rbit"
    bad.write_bytes(b"hello world, this is not a bitstream at all" * 4)
    assert_user_error(invoke("inspect", str(bad)), f"{bad}: ", "bad magic")


def test_sim_inputs_of_the_wrong_shape(tmp_path: Path, mlp_bitstream: Path) -> None:
    import numpy as np

    inputs = tmp_path / "in.npz"
    np.savez(inputs, x=np.zeros((3, 3), np.float32))
    out = tmp_path / "out.npz"
    assert_user_error(invoke("sim", str(mlp_bitstream), "--inputs", str(inputs), "-o", str(out)), "shape")
    assert not out.exists()


def test_real_process_has_no_traceback(tmp_path: Path) -> None:
    """The console script, not just click's runner: exit 2 and one line on stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "compiler.cli", str(MODELS / "no_model.py"), "-o", str(tmp_path / "o.rbit")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1


def test_place_rejects_a_malformed_netlist(tmp_path: Path) -> None:
    bad = tmp_path / "n.json"
    bad.write_text('{"units": [{"name": "a", "kind": "tpu"}], "nets": []}')
    assert_user_error(invoke("place", str(bad)), "unknown kind 'tpu'")


def test_place_reports_too_many_units(tmp_path: Path) -> None:
    import json

    netlist = tmp_path / "n.json"
    netlist.write_text(json.dumps({"units": [{"name": f"u{i}", "kind": "pcu"} for i in range(30)], "nets": []}))
    assert_user_error(invoke("place", str(netlist), "--chip", "small"), "30 PCUs requested", "24 PCU sites", "6 over")


def test_place_json(tmp_path: Path) -> None:
    import json

    netlist = tmp_path / "n.json"
    netlist.write_text(json.dumps({
        "units": [{"name": "u0", "kind": "pcu"}, {"name": "u1", "kind": "pmu"}, {"name": "u2", "kind": "agcu"}],
        "nets": [{"units": ["u0", "u1"], "weight": 1}, {"units": ["u1", "u2"], "weight": 2}],
    }))
    result = invoke("place", str(netlist), "--chip", "small", "--seconds", "1", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) == {"wirelength", "lower_bound", "seconds", "positions"}
    assert out["wirelength"] == out["lower_bound"] == 3
    assert set(out["positions"]) == {"u0", "u1", "u2"}


def test_inconsistent_bitstream_with_a_valid_checksum(tmp_path: Path, mlp_bitstream: Path) -> None:
    """A crafted file whose ids do not line up is rejected by the decoder, not by a KeyError."""
    from dataclasses import replace

    import bitstream_format

    bs = bitstream_format.decode(mlp_bitstream.read_bytes())
    bs.streams[0] = replace(bs.streams[0], dsts=(999,))
    bad = tmp_path / "bad.rbit"
    bad.write_bytes(bitstream_format.encode(bs))
    for command in ("inspect", "sim"):
        assert_user_error(invoke(command, str(bad)), "stream 0 names stage 999, which does not exist")


@pytest.mark.parametrize("args", [["-o", "{dir}"], ["-o", "{file}/x.rbit"], ["-o", "{tmp}/ok.rbit", "--emit-ir", "{dir}"],
                                  ["-o", "{tmp}/missing/x.rbit"]])
def test_unwritable_outputs_fail_before_any_work(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    paths = {"dir": tmp_path / "adir", "file": tmp_path / "afile", "tmp": tmp_path}
    result = invoke(str(MODELS.parent.parent / "examples" / "mlp.py"), "--chip", "small", *[a.format(**paths) for a in args])
    assert_user_error(result, "cannot write")
    assert not (tmp_path / "ok.rbit").exists()


def test_opt_before_lowering_and_malformed_options(tmp_path: Path) -> None:
    ir = Path(__file__).parent / "ir" / "fuse.mlir"
    assert_user_error(invoke("opt", str(ir), "-p", "rdu-plan-memory"), "run rdu-lower first")
    assert_user_error(invoke("opt", str(ir), "-p", "rdu-fuse{chip=small"), "Malformed pass arguments")


def test_opt_on_a_binary_file(mlp_bitstream: Path) -> None:
    assert_user_error(invoke("opt", str(mlp_bitstream)), "is not textual IR")


def test_sim_npy_instead_of_npz(tmp_path: Path, mlp_bitstream: Path) -> None:
    import numpy as np

    np.save(tmp_path / "x.npy", np.zeros(3))
    assert_user_error(invoke("sim", str(mlp_bitstream), "--inputs", str(tmp_path / "x.npy")), "not an .npz archive")


def test_custom_chip_spec_path(tmp_path: Path) -> None:
    spec = tmp_path / "mychip.toml"
    spec.write_text((Path(__file__).parents[1] / "chip_model" / "specs" / "small.toml").read_text()
                    .replace('name = "small"', 'name = "mychip"'))
    out = tmp_path / "m.rbit"
    result = invoke(str(MODELS.parent.parent / "examples" / "mlp.py"), "-o", str(out), "--chip", str(spec))
    assert result.exit_code == 0, result.output
    assert invoke("sim", str(out), "--chip", str(spec)).exit_code == 0


def test_output_into_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "folder" / "x.rbit"
    result = invoke(str(MODELS.parent.parent / "examples" / "mlp.py"), "--chip", "small", "-o", str(out))
    assert_user_error(result, f"cannot write {out}: folder {out.parent} does not exist")
    assert not (tmp_path / "no").exists()
