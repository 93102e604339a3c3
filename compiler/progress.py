"""Progress display for long work: a rich spinner on stderr naming the current step."""

from __future__ import annotations

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
    with console.status("working") as status:
        yield lambda step: status.update(f"[bold]{step}[/bold]")
