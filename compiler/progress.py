"""Progress display for long work: a rich spinner on stderr naming the current step and the
time spent so far, so a 30-second compile is not silent. Nothing is shown when stderr is not a
terminal or when the command prints JSON (the caller passes `enabled=False`)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

ProgressFn = Callable[[str], None]


def no_progress(step: str) -> None:
    pass


@contextmanager
def spinner(enabled: bool = True) -> Iterator[ProgressFn]:
    """Yields a function that names the current step; silent when stderr is not a terminal."""
    from rich.console import Console

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield no_progress
        return
    start = time.perf_counter()
    with console.status("working") as status:
        yield lambda step: status.update(f"[bold]{step}[/bold] ({time.perf_counter() - start:.0f} s)")
