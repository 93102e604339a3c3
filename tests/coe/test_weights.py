"""Many experts, one architecture: experts naming the same MODEL.py with their own weights (a
checkpoint or a seed) share one compiled program; the simulator runs each with ITS weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from compiler.coe.requests import Request
from tests.coe.conftest import EXAMPLES
from tests.coe.test_cli import assert_user_error

TINY = EXAMPLES / "tiny"


def _coe(tmp_path: Path, experts: str, extra_map: str = "") -> Path:
    path = tmp_path / "COE.toml"
    path.write_text(f'node = "small-node8"\nbatch = 2\ncategories = ["a", "b", "c"]\n[compile]\nplacer = "greedy"\n'
                    f'[router]\nmodel = "{TINY / "router.py"}"\n[map]\na = "plain"\nb = "tuned"\nc = "seeded"\n{extra_map}'
                    f'{experts}')
    return path


def _checkpoint(path: Path) -> Path:
    """llama_expert.py's weights, perturbed: a different expert of the same architecture."""
    from compiler.frontend.model_file import load_model_file

    module = load_model_file(TINY / "llama_expert.py").module
    g = torch.Generator().manual_seed(11)
    state = {k: v + 0.05 * torch.randn(v.shape, generator=g) if v.is_floating_point() else v
             for k, v in module.state_dict().items()}
    torch.save(state, path)
    return path


LLAMA = TINY / "llama_expert.py"


def test_experts_sharing_an_architecture_run_their_own_weights(tmp_path):
    from compiler.coe.functional import FunctionalCoE, reference
    from compiler.coe.session import CoESession

    _checkpoint(tmp_path / "tuned.pt")
    coe = _coe(tmp_path, f'[[experts]]\nname = "plain"\nmodel = "{LLAMA}"\n'
                         f'[[experts]]\nname = "tuned"\nmodel = "{LLAMA}"\nweights = "tuned.pt"\n'
                         f'[[experts]]\nname = "seeded"\nmodel = "{LLAMA}"\nseed = 3\n')
    session = CoESession(coe, tmp_path / "cache")
    prompt = (17, 200, 3, 45)
    requests = [Request(i, 0.0, len(prompt), 6, c, prompt, line=i + 1) for i, c in enumerate("abc")]
    got = FunctionalCoE(session).run(requests)
    assert got == reference(session.spec, requests)  # each expert equals its own PyTorch reference
    assert [g.expert for g in got] == ["plain", "tuned", "seeded"]
    assert len({tuple(g.tokens) for g in got}) == 3  # one prompt, three different outputs
    # one architecture, one compile: the experts' decode-step program (the requests name their
    # categories, so the router's program is not needed)
    arch = session.spec.expert("plain").architecture
    assert dict(session.programs.compiles) == {arch.digest(): 1}


def test_counted_experts_take_seeds_and_checkpoints_by_index(tmp_path):
    from compiler.coe.config import load_coe

    for i in range(2):
        _checkpoint(tmp_path / f"w{i}.pt")
    coe = _coe(tmp_path, f'[[experts]]\nname = "plain"\nmodel = "{LLAMA}"\n[[experts]]\nname = "tuned"\nmodel = "{LLAMA}"\n'
                         f'[[experts]]\nname = "seeded"\nmodel = "{LLAMA}"\n'
                         f'[[experts]]\nname = "s"\nmodel = "{LLAMA}"\nseed = 5\ncount = 3\n'
                         f'[[experts]]\nname = "w"\nmodel = "{LLAMA}"\nweights = "w{{i}}.pt"\ncount = 2\n')
    spec = load_coe(coe)
    assert [spec.expert(f"s-{i}").weights.seed for i in range(3)] == [5, 6, 7]
    assert [spec.expert(f"w-{i}").weights.checkpoint.name for i in range(2)] == ["w0.pt", "w1.pt"]
    assert len({e.architecture.digest() for e in spec.experts}) == 1


def _invoke(coe: Path):
    from compiler.cli import main

    return CliRunner().invoke(main, ["coe", "plan", str(coe)], catch_exceptions=False)


@pytest.mark.parametrize(("weights", "needle"), [
    ('weights = "missing.pt"', "checkpoint"),
    ('weights = "bad.pt"', "cannot read checkpoint bad.pt"),
    ('weights = "partial.pt"', "checkpoint partial.pt lacks parameter 'lm_head.weight'"),
    ('weights = "extra.pt"', "checkpoint extra.pt has 1 tensor(s) the model does not, first 'surplus'"),
    ('weights = "shape.pt"', "checkpoint shape.pt: lm_head.weight is [3, 3], the model's is [256, 64]"),
    ('weights = "w.txt"', "checkpoint w.txt is not one of .pt, .pth, .bin, .safetensors"),
    ('seed = -1', "seed must be a whole number >= 0, got -1"),
    ('seed = 1\nweights = "x.pt"', "give weights or seed, not both"),
])
def test_bad_weights(tmp_path, weights, needle):
    from compiler.frontend.model_file import load_model_file

    state = load_model_file(LLAMA).module.state_dict()
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    torch.save({k: v for k, v in state.items() if k != "lm_head.weight"}, tmp_path / "partial.pt")
    torch.save({**state, "surplus": torch.zeros(1)}, tmp_path / "extra.pt")
    torch.save({**state, "lm_head.weight": torch.zeros(3, 3)}, tmp_path / "shape.pt")
    (tmp_path / "w.txt").write_text("")
    coe = _coe(tmp_path, f'[[experts]]\nname = "plain"\nmodel = "{LLAMA}"\n[[experts]]\nname = "seeded"\nmodel = "{LLAMA}"\n'
                         f'[[experts]]\nname = "tuned"\nmodel = "{LLAMA}"\n{weights}\n')
    line = assert_user_error(_invoke(coe), needle)
    if "checkpoint" in needle and "not one of" not in needle:
        assert "expert 'tuned'" in line


def test_weights_need_a_model_file(tmp_path):
    coe = tmp_path / "COE.toml"
    coe.write_text('node = "small-node8"\n[router]\narchitecture = "t"\n[architectures.t]\nhidden = 64\n'
                   'intermediate = 128\nlayers = 2\nheads = 8\nkv_heads = 8\nvocab = 256\nmax_context = 64\n'
                   '[[experts]]\nname = "e"\narchitecture = "t"\nseed = 1\ncategories = ["x"]\n')
    assert_user_error(_invoke(coe), "seed needs a MODEL.py expert (model = \"expert.py\"); a architecture expert is shapes-only")
