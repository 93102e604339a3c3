"""bench/targets.json: it parses, every key a bench reads is in it and every entry is read, all
without running a bench (the benches are read as source: a key is a literal `target("...")`)."""

import ast
import json
from pathlib import Path

import pytest

from bench.targets import TARGETS_PATH, Target, load_targets, parse_target, target

BENCH = Path(__file__).resolve().parents[2] / "bench"


def target_calls(path: Path) -> list[ast.Call]:
    """Every call of `target(...)` (or `targets.target(...)`) in a bench's source."""
    calls = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name == "target":
                calls.append(node)
    return calls


def keys_read() -> dict[str, list[str]]:
    """Key -> the benches that read it."""
    read: dict[str, list[str]] = {}
    for path in sorted(BENCH.glob("*.py")):
        if path.name == "targets.py":
            continue
        for call in target_calls(path):
            (arg,) = call.args
            assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), (
                f"{path.name}:{call.lineno}: a target's key must be a literal string, so this test can check it")
            read.setdefault(arg.value, []).append(path.name)
    return read


def test_the_file_parses_and_every_entry_names_its_source() -> None:
    targets = load_targets()
    assert len(targets) == len(json.loads(TARGETS_PATH.read_text())["targets"])
    for key, t in targets.items():
        assert t.key == key and t.source.strip() and t.what.strip()
        assert "issue" in t.source or "paper" in t.source, f"{key}: source {t.source!r} names no issue or paper table"


def test_every_key_a_bench_reads_exists_and_every_target_is_read() -> None:
    read, targets = keys_read(), load_targets()
    assert set(read) - set(targets) == set(), "benches read keys bench/targets.json lacks"
    assert set(targets) - set(read) == set(), "bench/targets.json has entries no bench reads"
    # each bench's targets carry its name, so a reader knows where a target is judged
    for key, benches in read.items():
        assert f"{key.split('.')[0]}.py" in benches, (key, benches)


def test_the_judgements() -> None:
    def one(**entry) -> Target:
        return parse_target("k", {"what": "w", "unit": "s", "source": "issue 0"} | entry)

    assert one(at_most=60).within(60) and not one(at_most=60).within(60.5)
    assert one(at_least=1.7).within(1.7) and not one(at_least=1.7).within(1.69)
    assert one(band=[1.4, 8]).within(8) and not one(band=[1.4, 8]).within(8.1) and not one(band=[1.4, 8]).within(1.3)
    assert one(band=[1.5, 3], above_ok=True).within(30) and not one(band=[1.5, 3], above_ok=True).within(1.4)
    assert one(paper=1042, tolerance=0.25).within(1302) and not one(paper=1042, tolerance=0.25).within(1303)
    assert one(paper=457).within(100) is None  # a figure reported beside the measurement, not judged
    assert one(at_most=60).judge(61) == {"measured": 61, "target": "at most 60 s", "within_target": False,
                                          "source": "issue 0"}
    assert target("node.llama3.1-8b.tokens_per_second").describe() == "paper 1042 tokens/s +-25%"


@pytest.mark.parametrize("entry, message", [
    ({"what": "w", "unit": "s", "source": "issue 9"}, "needs exactly one of at_most, at_least, band, paper, has none"),
    ({"what": "w", "unit": "s", "source": "issue 9", "at_most": 1, "at_least": 0}, "needs exactly one of"),
    ({"what": "w", "unit": "s", "at_most": 1}, "k: missing source"),
    ({"what": "w", "unit": "s", "source": "issue 9", "at_most": 1, "tolerance": 0.1}, "tolerance goes with a paper figure only"),
    ({"what": "w", "unit": "s", "source": "issue 9", "band": [3, 1]}, "band must be [low, high]"),
    ({"what": "w", "unit": "s", "source": "issue 9", "at_most": 1, "limit": 2}, "unknown field(s) ['limit']"),
])
def test_a_malformed_entry_names_its_key_and_fault(entry, message) -> None:
    with pytest.raises(ValueError, match="bench/targets.json: k: ") as e:
        parse_target("k", entry)
    assert message in str(e.value)


def test_an_unknown_key_is_named() -> None:
    with pytest.raises(KeyError, match="no target 'simulator.nothing'"):
        target("simulator.nothing")
