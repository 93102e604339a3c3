"""The sweep's progress bar (rich, on stderr): points done, failed and cached. Only on a terminal,
never with --json."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

ProgressFn = Callable[[dict[str, Any], dict[str, int]], None]


@contextmanager
def progress_bar(total: int, enabled: bool) -> Iterator[ProgressFn]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda row, counts: None
        return
    columns = (TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[detail]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("sweep", total=total, detail="")

        def update(row: dict[str, Any], counts: dict[str, int]) -> None:
            bar.update(task, completed=counts["done"],
                       detail=f"{counts['failed']} failed, {counts['cached']} cached")

        yield update
