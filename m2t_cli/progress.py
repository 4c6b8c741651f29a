"""Progress bars and log lines on stderr, one rule for every command: a bar is drawn only when
stderr is a terminal (redirected, a transient bar printed an empty line before every error), and
log lines are never wrapped (training's JSON epoch records stay one line each in a log file)."""
from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

err = Console(stderr=True)


def bar(*columns, disable: bool = False, **options) -> Progress:
    """A transient rich Progress on stderr; `columns` default to: description, bar, i/n, time left."""
    columns = columns or (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=err, transient=True, disable=disable or not err.is_terminal, **options)


def log_line(message: str) -> None:
    """One line on stderr, as written (above a live bar when there is one)."""
    err.print(message, soft_wrap=True, markup=False, highlight=False)
