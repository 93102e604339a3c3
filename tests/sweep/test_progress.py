"""The progress bar: points done, failed and cached on a terminal; nothing otherwise."""

from __future__ import annotations

import pytest
from rich.console import Console

from compiler.sweep.progress import progress_bar


def drive(enabled: bool) -> None:
    with progress_bar(3, enabled) as update:
        update({}, {"done": 1, "failed": 0, "cached": 1})
        update({}, {"done": 3, "failed": 1, "cached": 1})


def test_bar_counts_on_a_terminal(capsys, monkeypatch) -> None:
    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    drive(True)
    err = capsys.readouterr().err
    assert "1 failed, 1 cached" in err and "3/3" in err


@pytest.mark.parametrize("terminal", [True, False])
def test_no_bar_when_disabled_or_not_a_terminal(capsys, monkeypatch, terminal: bool) -> None:
    monkeypatch.setattr(Console, "is_terminal", property(lambda self: terminal))
    drive(enabled=not terminal)
    assert capsys.readouterr().err == ""
