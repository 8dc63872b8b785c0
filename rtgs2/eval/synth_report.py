"""``rtgs2 synth-report``: class balance, colour leakage, build cost and 3DGS fidelity of a
built SynthRooms data set (read with :mod:`rtgs2.data.readers.synthrooms`; the 3DGS scored by
rendering it at the held-out views).

Colour leakage: two classifiers see a pixel's RGB alone, are fitted on pixels of the train
scenes and scored on pixels of the test scenes.

- k-NN on RGB. With few scenes it memorises which class owned a colour in the train scenes;
  where materials are drawn afresh per scene that pairing carries over only as far as colour
  is evidence of the class.
- Colour histogram (16^3 RGB bins, the most common train class per bin): pooled over all train
  scenes it is close to the best colour-only rule; with no colour cue it answers the majority
  class everywhere.

``v1`` draws every object's material from one pool shared by all classes: both stay near the
majority-class rate and 1/K mean class accuracy. ``v2`` draws materials per class, as real rooms
have them (light walls, white ceilings, wood floors, green plants), with overlap: colour should
now be evidence (clearly above chance) without giving the class away (clearly below what the
networks reach from the image and the scene's geometry).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree

from rtgs2.data.readers.synthrooms import DONE, open_synthrooms
from rtgs2.data.views import IGNORE_LABEL, SceneViews
from rtgs2.eval.metrics import psnr, ssim
from rtgs2.render import render
from rtgs2.scene.ply import read_ply
from rtgs2.utils.errors import ConfigError, UserError

HIST_BINS = 16  # per RGB channel of the colour-histogram classifier


@dataclass
class SynthReport:
    """``pixel_share`` [K] fraction of labelled pixels per class (all scenes, all views);
    ``knn_*`` / ``hist_*`` accuracy and mean class accuracy of the k-NN and colour-histogram
    classifiers on test-scene pixels; ``majority_rate`` the accuracy of always answering the
    train scenes' most common class; ``chance_rate`` the expected accuracy of guessing at random
    with the train scenes' class frequencies (a classifier whose answers carry no information
    about the pixel); a mean class accuracy carries no information at 1/K; ``names`` [K]."""

    names: list[str]
    pixel_share: np.ndarray
    knn_accuracy: float
    knn_class_accuracy: float
    hist_accuracy: float
    hist_class_accuracy: float
    majority_rate: float
    chance_rate: float
    k: int
    train_pixels: int
    test_pixels: int


@dataclass
class BuildStats:
    """``build_s`` the summed per-scene build times (ground truth + 3DGS, from the ``DONE``
    markers, seconds; a build resumed across runs counts each scene once); ``size_bytes`` the
    data set's size on disk."""

    num_scenes: int
    build_s: float
    size_bytes: int


@dataclass
class FitQuality:
    """Held-out fidelity of each scene's 3DGS: its render of every held-out view (every 8th,
    black background as fitted) against the ray-cast image. ``psnr`` [S] dB and ``ssim`` [S]
    (zero padding, as the 3DGS paper's evaluation) are means over a scene's held-out views."""

    names: list[str]
    splits: list[str]
    psnr: np.ndarray
    ssim: np.ndarray


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


def _class_accuracy(pred: np.ndarray, truth: np.ndarray, num_classes: int) -> float:
    """Mean over the classes present in ``truth`` of the fraction of their pixels predicted right."""
    hit = np.bincount(truth[pred == truth], minlength=num_classes)
    total = np.bincount(truth, minlength=num_classes)
    return float((hit[total > 0] / total[total > 0]).mean())


def _knn_predict(x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, k: int, num_classes: int) -> np.ndarray:
    _, idx = cKDTree(x_tr).query(x_te, k=k)
    votes = y_tr[idx.reshape(len(x_te), -1)]
    onehot = np.zeros((len(x_te), num_classes), np.int64)
    np.add.at(onehot, (np.repeat(np.arange(len(x_te)), votes.shape[1]), votes.ravel()), 1)
    return onehot.argmax(1)


def _hist_predict(x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, num_classes: int) -> np.ndarray:
    """Most common train class of each test pixel's RGB bin (an empty bin: the majority class)."""

    def bin_of(x: np.ndarray) -> np.ndarray:
        q = np.clip((x * HIST_BINS).astype(np.int64), 0, HIST_BINS - 1)
        return (q[:, 0] * HIST_BINS + q[:, 1]) * HIST_BINS + q[:, 2]

    counts = np.zeros((HIST_BINS**3, num_classes), np.int64)
    np.add.at(counts, (bin_of(x_tr), y_tr), 1)
    counts[counts.sum(1) == 0, np.bincount(y_tr, minlength=num_classes).argmax()] = 1
    return counts.argmax(1)[bin_of(x_te)]


def synth_report(root: str | Path, k: int = 15, pixels_per_view: int = 500, seed: int = 0) -> SynthReport:
    """Class balance over every view, and the colour-only classifiers' scores (train -> test scenes)."""
    ds = open_synthrooms(root)
    if not ds.train or not ds.test:
        n = f"{len(ds.train)} train, {len(ds.test)} test"
        raise UserError(f"{root}: the colour-leakage test needs train and test scenes ({n})")
    for name, value in (("k", k), ("pixels_per_view", pixels_per_view)):
        if value <= 0:
            raise ConfigError(None, name, f"must be positive, got {value}")
    rng = np.random.default_rng(seed)
    nc = ds.label_map.num_classes
    counts = np.zeros(nc, np.int64)
    x_tr, y_tr = _sample(ds.train, pixels_per_view, rng, counts)
    x_te, y_te = _sample(ds.test, pixels_per_view, rng, counts)
    knn = _knn_predict(x_tr, y_tr, x_te, k, nc)
    hist = _hist_predict(x_tr, y_tr, x_te, nc)
    p_train = np.bincount(y_tr, minlength=nc) / len(y_tr)
    p_test = np.bincount(y_te, minlength=nc) / len(y_te)
    return SynthReport(
        names=list(ds.label_map.names),
        pixel_share=counts / max(1, counts.sum()),
        knn_accuracy=float((knn == y_te).mean()),
        knn_class_accuracy=_class_accuracy(knn, y_te, nc),
        hist_accuracy=float((hist == y_te).mean()),
        hist_class_accuracy=_class_accuracy(hist, y_te, nc),
        majority_rate=float(p_test[p_train.argmax()]),
        chance_rate=float(p_train @ p_test),
        k=k,
        train_pixels=len(x_tr),
        test_pixels=len(x_te),
    )


def build_stats(root: str | Path) -> BuildStats:
    """Summed build time of the finished scenes and the size on disk of data set ``root``."""
    ds = open_synthrooms(root)
    total = 0.0
    for s in ds.scenes:
        done = json.loads((ds.root / s.name / DONE).read_text())
        total += done["ground_truth_s"] + done["gaussians_s"]
    size = sum(p.stat().st_size for p in ds.root.rglob("*") if p.is_file())
    return BuildStats(len(ds), total, size)


def fit_quality(root: str | Path) -> FitQuality:
    """Render every scene's ``.ply`` at its held-out views and score it against the ray-cast images."""
    ds = open_synthrooms(root)
    names, splits, ps, ss = [], [], [], []
    with torch.no_grad():
        for split, scenes in (("train", ds.train), ("test", ds.test)):
            for s in scenes:
                gs = read_ply(s.gaussians)
                pairs = [(render(gs, s.cameras[i]).rgb.clamp(0, 1), s.images[i]) for i in s.indices("test")]
                ps.append(np.mean([float(psnr(r, img)) for r, img in pairs]))
                ss.append(np.mean([float(ssim(r, img)) for r, img in pairs]))
                names.append(s.name)
                splits.append(split)
    return FitQuality(names, splits, np.array(ps), np.array(ss))


def print_report(
    root: str | Path, k: int = 15, pixels_per_view: int = 500, seed: int = 0, with_fit_quality: bool = True
) -> tuple[SynthReport, BuildStats, FitQuality | None]:
    """Compute :func:`synth_report`, :func:`build_stats` and (optionally) :func:`fit_quality`; print them."""
    from rich.console import Console
    from rich.table import Table

    r = synth_report(root, k, pixels_per_view, seed)
    b = build_stats(root)
    con = Console()
    table = Table(title=f"SynthRooms class balance: {root}")
    table.add_column("class")
    table.add_column("pixel share %", justify="right")
    for n, s in zip(r.names, r.pixel_share):
        table.add_row(n, f"{100 * s:.2f}")
    con.print(table)
    con.print(f"colour-only classifiers, train scenes -> test scenes ({r.train_pixels} / {r.test_pixels} pixels):")
    con.print(f"  {r.k}-NN on RGB:           accuracy {100 * r.knn_accuracy:.1f}%, mean class accuracy {100 * r.knn_class_accuracy:.1f}%")
    con.print(f"  RGB histogram ({HIST_BINS}^3 bins): accuracy {100 * r.hist_accuracy:.1f}%, mean class accuracy {100 * r.hist_class_accuracy:.1f}%")
    con.print(
        f"  no information:          majority-class rate {100 * r.majority_rate:.1f}%, chance at the train class "
        f"frequencies {100 * r.chance_rate:.1f}%, mean class accuracy {100 / len(r.names):.1f}% (1/K)"
    )
    con.print(f"build: {b.num_scenes} scenes, {b.build_s / 60:.1f} min summed over scenes, {b.size_bytes / 1e9:.2f} GB on disk")
    q = None
    if with_fit_quality:
        q = fit_quality(root)
        for split in ("train", "test"):
            m = np.array(q.splits) == split
            con.print(
                f"3DGS held-out views, {split} scenes ({m.sum()}): PSNR {q.psnr[m].mean():.2f} dB "
                f"(lowest scene {q.psnr[m].min():.2f}), SSIM {q.ssim[m].mean():.3f} (lowest {q.ssim[m].min():.3f})"
            )
    return r, b, q
