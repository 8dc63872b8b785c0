"""Progress of a long run: a rich bar on a terminal, and a plain dated line every
``interval_s`` seconds when the output goes to a file or a pipe (a log then shows how far a
background job got, with its rate and ETA)."""

from __future__ import annotations

import datetime as _dt
import sys
import time
from types import TracebackType
from typing import IO

PLAIN_INTERVAL_S = 30.0  # seconds between plain lines: a log that shows life without flooding


def _clock(seconds: float) -> str:
    s = int(max(seconds, 0))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class ProgressReport:
    """Context manager reporting ``completed`` out of ``total`` steps.

    Args:
        description: what runs ("recon", "SynthRooms scenes", ...).
        total: steps in all.
        start: steps already done (a resumed run): the rate and ETA count only new steps.
        fields: a ``str.format`` template of the live values passed to :meth:`update`, e.g.
            ``"loss {loss:.4f}"``; shown once every field has a value.
        enabled: False shows nothing.
        stream: where to write (default ``sys.stderr``); a terminal gets the rich bar.
        interval_s: seconds between plain lines (default :data:`PLAIN_INTERVAL_S`).
    """

    def __init__(
        self,
        description: str,
        total: int,
        *,
        start: int = 0,
        fields: str = "",
        enabled: bool = True,
        stream: IO[str] | None = None,
        interval_s: float | None = None,
    ):
        self.description, self.total, self.start, self.template = description, total, start, fields
        self.enabled = enabled
        self.interval_s = PLAIN_INTERVAL_S if interval_s is None else interval_s
        self.stream = stream if stream is not None else sys.stderr
        self.completed = start
        self.values: dict = {}
        self._rich = None
        self._t0 = self._last_line = 0.0

    @property
    def plain(self) -> bool:
        """True when lines are written instead of a live bar (output is not a terminal)."""
        return not (hasattr(self.stream, "isatty") and self.stream.isatty())

    def _fields_text(self) -> str:
        try:
            return self.template.format(**self.values) if self.template else ""
        except (KeyError, ValueError, TypeError):
            return ""  # not every value known yet

    def __enter__(self) -> ProgressReport:
        self._t0 = self._last_line = time.monotonic()
        if not self.enabled:
            return self
        if self.plain:
            self._line()
        else:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            from rich.progress import TimeRemainingColumn

            self._rich = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=Console(file=self.stream),
            )  # fmt: skip
            self._rich.__enter__()
            self._task = self._rich.add_task(self.description, total=self.total, completed=self.start, info="")
        return self

    def update(self, completed: int, **values) -> None:
        """Set the steps done and any live values named in ``fields``."""
        self.completed = completed
        self.values.update(values)
        if not self.enabled:
            return
        if self._rich is not None:
            self._rich.update(self._task, completed=completed, info=self._fields_text())
        elif time.monotonic() - self._last_line >= self.interval_s:
            self._line()

    def advance(self, steps: int = 1, **values) -> None:
        self.update(self.completed + steps, **values)

    def eta_s(self) -> float | None:
        """Seconds left at the rate of this run's steps so far (None before the first step)."""
        done = self.completed - self.start
        if done <= 0:
            return None
        return (time.monotonic() - self._t0) / done * (self.total - self.completed)

    def _line(self, note: str = "") -> None:
        now = time.monotonic()
        self._last_line = now
        stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        pct = 100.0 * self.completed / self.total if self.total else 100.0
        eta = self.eta_s()
        parts = [f"{stamp} {self.description} {self.completed}/{self.total} ({pct:.0f}%)", self._fields_text(),
                 f"elapsed {_clock(now - self._t0)}", "" if eta is None else f"ETA {_clock(eta)}", note]  # fmt: skip
        print("  ".join(p for p in parts if p), file=self.stream, flush=True)

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if not self.enabled:
            return
        if self._rich is not None:
            self._rich.__exit__(exc_type, exc, tb)
        else:
            self._line("done" if exc_type is None else f"stopped ({exc_type.__name__})")
