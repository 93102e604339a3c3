"""One base class for every user-facing error: each error family derives from
`rducc_errors.UserError`, and the CLI catches that one class (one `error:` line, exit 2), so a
new family cannot be forgotten in a list of exceptions to catch."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import tomllib
from pathlib import Path

import pytest

import compiler.cli
from rducc_errors import UserError
from tests.test_cli_errors import MODELS, assert_user_error, invoke

ROOT = Path(__file__).parents[1]
SMALL_SPEC = ROOT / "chip_model" / "specs" / "small.toml"

# Exception classes that never reach the user as such, each with the reason.
INTERNAL = {
    "functional_sim.kernels.AttributeMissing":
        "a kernel's missing stage attribute; Simulator.run_stage reports it as a SimulationError naming the stage",
    "bitstream_format.signatures.SignatureError":
        "an op that breaks its opcode's typing rule; the verifiers re-raise it as a VerifyException naming "
        "the op, which the compile reports as an InvalidIRError",
    "functional_sim.errors.SimulatorBug":
        "an exception inside a stage of a bitstream that passed every check: a bug in rducc, reported as an "
        "internal error naming the stage with its traceback, never as the user's fault (issue 10)",
    "compiler.interpret.NotInterpretable":
        "IR the interpreter cannot run (shapes-only weights); rducc bisect records the level as skipped",
}

FAMILIES = [
    "dialects.diagnostics.RduccError",
    "bitstream_format.codec.BitstreamError",
    "chip_model.spec.ChipSpecError",
    "passes.registry.UnknownPassError",
    "functional_sim.errors.SimulationError",
    "backend_rdu.placement.errors.NetlistError",
    "backend_rdu.placement.errors.PlacementError",
    "backend_rdu.routing.errors.RoutingError",
]


def project_packages() -> list[str]:
    """The top-level packages pyproject.toml installs, so a new package is walked too."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({p.rstrip("*").rstrip(".") for p in patterns})


def project_exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package in project_packages():
        top = importlib.import_module(package)
        modules = [top] + [importlib.import_module(info.name)
                           for info in pkgutil.walk_packages(top.__path__, package + ".")]
        for module in modules:
            for obj in vars(module).values():
                if isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                    found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


@pytest.fixture(scope="module")
def exception_classes() -> dict[str, type[BaseException]]:
    return project_exception_classes()


def test_every_user_facing_exception_derives_from_user_error(exception_classes) -> None:
    assert set(FAMILIES) <= set(exception_classes), "the walk missed a known family"
    strays = sorted(name for name, cls in exception_classes.items()
                    if name not in INTERNAL and not issubclass(cls, UserError))
    assert not strays, f"user-facing errors that the CLI would not catch: {strays}"


def test_internal_exclusions_are_real_and_internal(exception_classes) -> None:
    for name, reason in INTERNAL.items():
        assert reason
        assert name in exception_classes, f"{name} is excluded but no longer exists"
        assert not issubclass(exception_classes[name], UserError), f"{name} is a UserError: drop its exclusion"


def test_value_error_families_stay_value_errors(exception_classes) -> None:
    """These were ValueErrors before UserError existed; callers may still catch them as such."""
    compiler_families = {"dialects.diagnostics.RduccError", "passes.registry.UnknownPassError"}
    for name in set(FAMILIES) - compiler_families:
        assert issubclass(exception_classes[name], ValueError), name


def test_rducc_error_keeps_one_line_and_source() -> None:
    from dialects.diagnostics import RduccError

    err = RduccError("too\n  many   words", "model.py:3")
    assert str(err) == "too many words (at model.py:3)"
    assert err.source == "model.py:3"
    assert isinstance(err, UserError)


# --- the CLI: one case per family, each checked to reach the CLI as that family ------------------


@pytest.fixture(scope="module")
def mlp_bitstream(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bits") / "mlp.rbit"
    result = invoke(str(ROOT / "examples" / "mlp.py"), "-o", str(out), "--chip", "small")
    assert result.exit_code == 0, result.output
    return out


def _one_row_chip(tmp: Path) -> Path:
    """One row, all AGCUs at the left edge, and switches whose routing tables hold one flow: a
    two-input kernel's unit has at least two flows (an input and its output) end or start at its
    switch, wherever it is placed."""
    text = SMALL_SPEC.read_text()
    text = text[: text.index("[grid]")].replace('name = "small"', 'name = "lane"')
    text = text.replace("route_table_entries = 64", "route_table_entries = 1")
    text += (
        '[grid]\ncolumns = 12\nrows = 1\ndie_rows = 1\n\n'
        '[[grid.region]]\npattern = "column"\nkind = "agcu"\nx = [0, 2]\ny = [0, 0]\n\n'
        '[[grid.region]]\npattern = "checkerboard"\nx = [3, 10]\ny = [0, 0]\neven = "pmu"\nodd = "pcu"\n'
    )
    spec = tmp / "lane.toml"
    spec.write_text(text)
    return spec


def _two_input_model(tmp: Path) -> Path:
    model = tmp / "add2.py"
    model.write_text(
        "import torch\n\n\nclass Add(torch.nn.Module):\n    def forward(self, x, y):\n        return x + y\n\n\n"
        "model = Add()\nexample_inputs = (torch.randn(16), torch.randn(16))\n"
    )
    return model


def _case(family: str, tmp: Path, bitstream) -> tuple[list[str], str]:
    """(CLI arguments, a phrase the message must contain) that make the CLI meet `family`."""
    if family == "RduccError":
        return [str(MODELS / "no_model.py"), "-o", str(tmp / "o.rbit")], "defines no module-level `model`"
    if family == "UnknownPassError":
        ir = tmp / "m.mlir"
        ir.write_text("builtin.module {}\n")
        return ["opt", str(ir), "-p", "rdu-nonsense"], "rdu-nonsense"
    if family == "ChipSpecError":
        return ["chip", "tpu9"], "unknown chip 'tpu9'"
    if family == "BitstreamError":
        bad = tmp / "x.rbit"
        bad.write_bytes(b"not a bitstream" * 8)
        return ["inspect", str(bad)], "bad magic"
    if family == "SimulationError":
        import numpy as np

        np.save(tmp / "x.npy", np.zeros(3))
        return ["sim", str(bitstream()), "--inputs", str(tmp / "x.npy")], "not an .npz archive"
    if family == "NetlistError":
        netlist = tmp / "n.json"
        netlist.write_text('{"units": [{"name": "a", "kind": "tpu"}], "nets": []}')
        return ["place", str(netlist)], "unknown kind 'tpu'"
    if family == "PlacementError":
        units = ", ".join(f'{{"name": "u{i}", "kind": "pcu"}}' for i in range(30))
        netlist = tmp / "n.json"
        netlist.write_text(f'{{"units": [{units}], "nets": []}}')
        return ["place", str(netlist), "--chip", "small"], "30 PCUs requested"
    if family == "RoutingError":
        return ([str(_two_input_model(tmp)), "-o", str(tmp / "o.rbit"), "--chip", str(_one_row_chip(tmp))],
                "but its routing table holds 1 flows")
    raise AssertionError(family)


@pytest.mark.parametrize("family", [name.rsplit(".", 1)[1] for name in FAMILIES])
def test_each_family_is_one_error_line(family: str, tmp_path: Path, request, monkeypatch, exception_classes) -> None:
    caught: list[BaseException] = []
    real_fail = compiler.cli.fail

    def recording_fail(message: str) -> None:
        caught.append(sys.exc_info()[1])
        real_fail(message)

    monkeypatch.setattr(compiler.cli, "fail", recording_fail)
    args, needle = _case(family, tmp_path, lambda: request.getfixturevalue("mlp_bitstream"))
    assert_user_error(invoke(*args), needle)
    cls = next(c for name, c in exception_classes.items() if name.endswith("." + family) and name in FAMILIES)
    assert len(caught) == 1 and isinstance(caught[0], cls), f"expected a {family}, the CLI caught {caught!r}"
    assert not (tmp_path / "o.rbit").exists()


def test_a_new_family_is_caught_without_being_listed(monkeypatch) -> None:
    import chip_model

    class BrandNewError(UserError):
        pass

    def load_chip(name: str):
        raise BrandNewError(f"no such thing as {name}")

    monkeypatch.setattr(chip_model, "load_chip", load_chip)
    assert_user_error(invoke("chip", "anything"), "no such thing as anything")


def test_a_bug_keeps_its_traceback(monkeypatch) -> None:
    """Only user errors are turned into one line; an internal error is not hidden."""
    import chip_model

    def load_chip(name: str):
        raise KeyError("an internal bug")

    monkeypatch.setattr(chip_model, "load_chip", load_chip)
    with pytest.raises(KeyError, match="an internal bug"):
        invoke("chip", "small")
