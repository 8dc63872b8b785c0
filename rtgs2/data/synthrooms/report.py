"""Class balance and colour leakage of a SynthRooms data set.

Colour leakage: a k-nearest-neighbour classifier on a pixel's RGB alone, fitted on pixels of
the train scenes and scored on pixels of the test scenes. If colour gave the class away it
would beat the majority-class rate by far; SynthRooms draws materials from a pool shared by
all classes, so it should not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from rtgs2.data.synthrooms.dataset import open_synthrooms
from rtgs2.data.views import IGNORE_LABEL, SceneViews


@dataclass
class SynthReport:
    """``pixel_share`` [K] fraction of labelled pixels per class (all scenes, all views);
    ``knn_accuracy`` colour-only k-NN accuracy on test-scene pixels; ``majority_rate`` the
    accuracy of always answering the train scenes' most common class; ``chance_rate`` the
    expected accuracy of guessing at random with the train scenes' class frequencies (what a
    classifier whose answers carry no information about the pixel scores); ``names`` [K]."""

    names: list[str]
    pixel_share: np.ndarray
    knn_accuracy: float
    majority_rate: float
    chance_rate: float
    k: int
    train_pixels: int
    test_pixels: int


def _sample(
    scenes: list[SceneViews], per_view: int, rng: np.random.Generator, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """RGB [P, 3] and labels [P] of ``per_view`` random labelled pixels per view; adds every
    view's label histogram to ``counts``."""
    xs, ys = [], []
    for s in scenes:
        for i in range(len(s)):
            lab = s.labels[i].numpy().ravel()
            counts += np.bincount(lab[lab != IGNORE_LABEL], minlength=len(counts))[: len(counts)]
            ok = np.flatnonzero(lab != IGNORE_LABEL)
            pick = rng.choice(ok, min(per_view, len(ok)), replace=False)
            xs.append(s.images[i].numpy().reshape(-1, 3)[pick])
            ys.append(lab[pick])
    return np.concatenate(xs), np.concatenate(ys)


def synth_report(root: str | Path, k: int = 15, pixels_per_view: int = 500, seed: int = 0) -> SynthReport:
    """Class balance over every view, and the colour-only k-NN accuracy (train -> test scenes)."""
    ds = open_synthrooms(root)
    if not ds.train or not ds.test:
        n = f"{len(ds.train)} train, {len(ds.test)} test"
        raise ValueError(f"{root}: the colour-leakage test needs train and test scenes ({n})")
    if k <= 0 or pixels_per_view <= 0:
        raise ValueError(f"k and pixels_per_view must be positive, got {k}, {pixels_per_view}")
    rng = np.random.default_rng(seed)
    counts = np.zeros(ds.label_map.num_classes, np.int64)
    x_tr, y_tr = _sample(ds.train, pixels_per_view, rng, counts)
    x_te, y_te = _sample(ds.test, pixels_per_view, rng, counts)
    _, idx = cKDTree(x_tr).query(x_te, k=k)
    votes = y_tr[idx.reshape(len(x_te), -1)]
    onehot = np.zeros((len(x_te), ds.label_map.num_classes), np.int64)
    np.add.at(onehot, (np.repeat(np.arange(len(x_te)), votes.shape[1]), votes.ravel()), 1)
    pred = onehot.argmax(1)
    p_train = np.bincount(y_tr, minlength=ds.label_map.num_classes) / len(y_tr)
    p_test = np.bincount(y_te, minlength=ds.label_map.num_classes) / len(y_te)
    return SynthReport(
        names=list(ds.label_map.names),
        pixel_share=counts / max(1, counts.sum()),
        knn_accuracy=float((pred == y_te).mean()),
        majority_rate=float(p_test[p_train.argmax()]),
        chance_rate=float(p_train @ p_test),
        k=k,
        train_pixels=len(x_tr),
        test_pixels=len(x_te),
    )


def print_report(root: str | Path, k: int = 15, pixels_per_view: int = 500, seed: int = 0) -> SynthReport:
    """Compute :func:`synth_report` and print it as tables."""
    from rich.console import Console
    from rich.table import Table

    r = synth_report(root, k, pixels_per_view, seed)
    table = Table(title=f"SynthRooms class balance: {root}")
    table.add_column("class")
    table.add_column("pixel share %", justify="right")
    for n, s in zip(r.names, r.pixel_share):
        table.add_row(n, f"{100 * s:.2f}")
    con = Console()
    con.print(table)
    con.print(
        f"colour-only {r.k}-NN on RGB (train scenes -> test scenes, {r.train_pixels} / {r.test_pixels} pixels): "
        f"accuracy {100 * r.knn_accuracy:.1f}%, majority-class rate {100 * r.majority_rate:.1f}%, "
        f"chance at the train class frequencies {100 * r.chance_rate:.1f}%"
    )
    return r
