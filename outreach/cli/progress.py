"""The progress bar of `outreach run`: rich's, on standard error, made when a send starts (an
idle run never imports rich)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class RichProgress(AbstractContextManager["RichProgress"]):
    """A progress bar per send (shown only on a terminal)."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def start(self, label: str, total: int) -> None:
        """A new bar for a send."""
        if self._progress is None:
            self._progress = _progress_bars()
            self._progress.start()
        self._task = self._progress.add_task(label, total=total)

    def advance(self, count: int) -> None:
        """Move the current bar on."""
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, count)


def _progress_bars() -> Progress:
    """rich's bars on standard error, so output stays clean for pipes."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
