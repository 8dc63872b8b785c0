"""A rich progress bar for a fit: step, loss, PSNR, Gaussian count, ETA."""

from __future__ import annotations

from types import TracebackType

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

SMOOTHING = 0.4  # weight of the newest step in the displayed running averages (3DGS trainer's EMA)


class FitProgress:
    """Context manager; ``update`` once per step. Does nothing when ``enabled`` is false."""

    def __init__(self, total: int, start: int, enabled: bool = True):
        self.enabled, self.total, self.start = enabled, total, start
        self.loss_ema: float | None = None
        self.psnr_ema: float | None = None
        self._progress: Progress | None = None

    def __enter__(self) -> FitProgress:
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]recon"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}  PSNR {task.fields[psnr]:.2f} dB  {task.fields[n]} Gaussians"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("fit", total=self.total, completed=self.start, loss=0.0, psnr=0.0, n=0)
        return self

    def update(self, step: int, loss: float, psnr: float, num_gaussians: int) -> None:
        def ema(old: float | None, new: float) -> float:
            return new if old is None else SMOOTHING * new + (1 - SMOOTHING) * old

        self.loss_ema = ema(self.loss_ema, loss)
        if psnr != float("inf"):
            self.psnr_ema = ema(self.psnr_ema, psnr)
        if self._progress is not None:
            self._progress.update(
                self._task, completed=step, loss=self.loss_ema, psnr=self.psnr_ema or 0.0, n=num_gaussians
            )

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)
