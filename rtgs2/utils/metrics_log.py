"""Training metrics as a CSV file (one row per logged step) and PNG curves drawn from it.

A resumed run first drops the rows logged after its checkpoint, so the file always matches
the state it continues from."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

from rtgs2.utils.io import atomic_open, atomic_write_text


class MetricsLog:
    """``path``: the CSV; ``columns``: its header, the first being the step."""

    def __init__(self, path: str | Path, columns: Sequence[str]):
        self.path = Path(path)
        self.columns = list(columns)

    def rows(self) -> list[dict]:
        if not self.path.is_file():
            return []
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))

    def truncate_after(self, step: int) -> None:
        """Keep the rows of steps <= ``step`` (a resume from that step's checkpoint)."""
        kept = [r for r in self.rows() if int(r[self.columns[0]]) <= step]
        lines = [",".join(self.columns)] + [",".join(r.get(c, "") for c in self.columns) for r in kept]
        atomic_write_text(self.path, "\n".join(lines) + "\n")

    def append(self, **values) -> None:
        """Add one row; missing columns stay empty, floats are written with 6 significant digits."""
        unknown = set(values) - set(self.columns)
        if unknown:
            raise ValueError(f"unknown metric columns {sorted(unknown)}; the log has {self.columns}")
        new = not self.path.is_file()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="") as f:
            if new:
                f.write(",".join(self.columns) + "\n")
            f.write(",".join(_fmt(values.get(c)) for c in self.columns) + "\n")

    def plot(self, png: str | Path, panels: Sequence[Sequence[str]], title: str = "") -> None:
        """One panel per group of columns, each against the step; empty cells are skipped."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = self.rows()
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
        for ax, cols in zip(axes[0], panels):
            for c in cols:
                pts = [(int(r[self.columns[0]]), float(r[c])) for r in rows if r.get(c) not in (None, "")]
                if pts:
                    ax.plot(*zip(*pts), label=c, marker="." if len(pts) < 40 else None)
            ax.set_xlabel(self.columns[0])
            ax.grid(alpha=0.3)
            ax.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        with atomic_open(png, "wb") as f:
            fig.savefig(f, format="png", dpi=100)
        plt.close(fig)


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    return str(v)
