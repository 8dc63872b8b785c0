"""Figures of ``rtgs2 eval`` like the paper's Figure 3: per scene, a few views as rows of panels
-- the data's image, its ground truth, then each model's prediction and its errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rtgs2.data.views import IGNORE_LABEL, LabelMap
from rtgs2.pipeline.draw import class_label_map, legend, to_uint8
from rtgs2.utils.io import atomic_open

PANEL_WIDTH = 320  # px; wider views are scaled down so that a figure of many rows stays viewable
TITLE_HEIGHT = 16  # px of the strip naming the columns
GAP = 2  # px of white between panels
RIGHT = (235, 235, 235)  # error map: a correctly labelled pixel
WRONG = (220, 30, 30)  # a wrongly labelled (or uncovered) pixel
NOT_SCORED = (0, 0, 0)  # a pixel without ground truth


def error_image(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:  # [H, W, 3] uint8
    """Where ``pred`` [H, W] uint8 is right / wrong against ``gt`` [H, W] (IGNORE_LABEL: not scored)."""
    out = np.where((pred == gt)[..., None], np.array(RIGHT, np.uint8), np.array(WRONG, np.uint8))
    out[gt == IGNORE_LABEL] = NOT_SCORED
    return out


@dataclass
class FigureView:
    """One view's panels: the image and ground truth (coloured in the first model's classes),
    then each model's prediction and errors."""

    image: np.ndarray | None = None  # [H, W, 3] uint8
    truth: np.ndarray | None = None  # [H, W, 3] uint8
    colours: LabelMap | None = None  # the first model's class colours (the legend's)
    present: set[int] = field(default_factory=set)  # the first model's classes shown
    rows: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)  # name, prediction, errors

    def set_truth(self, image, gt: np.ndarray, class_names: Sequence[str]) -> None:
        """The data's ``image`` [H, W, 3] in [0, 1] and ``gt`` [H, W] uint8 in the classes ``class_names``."""
        self.colours = class_label_map(class_names)
        self.image, self.truth = to_uint8(image), self.colours.colorize(gt)
        self.present |= set(np.unique(gt).tolist())

    def add(self, name: str, class_names: Sequence[str], gt: np.ndarray, pred: np.ndarray) -> None:
        """Model ``name``'s prediction ``pred`` [H, W] uint8 (UNLABELLED: uncovered) against ``gt``, both in its classes."""
        colours = class_label_map(class_names)
        if colours.names == self.colours.names:
            self.present |= set(np.unique(pred).tolist())
        self.rows.append((name, colours.colorize(pred), error_image(pred, gt)))


def _panel(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[:2]
    if w <= PANEL_WIDTH:
        return x
    return np.asarray(Image.fromarray(x).resize((PANEL_WIDTH, max(1, round(h * PANEL_WIDTH / w))), Image.BILINEAR))


def _labelled(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` with ``text`` in its top-left corner, on a white box."""
    im = Image.fromarray(image)
    draw = ImageDraw.Draw(im)
    box = draw.textbbox((2, 2), text, font=ImageFont.load_default())
    draw.rectangle(box, fill=(255, 255, 255))
    draw.text((2, 2), text, fill=(0, 0, 0), font=ImageFont.load_default())
    return np.asarray(im)


def write_figure(path: Path, views: Sequence[FigureView], view_ids: Sequence[int]) -> None:
    """A PNG with one row of panels per view (``view_ids``: their indices in the scene, written
    on the image), column titles above and the shown classes' legend below; written atomically."""
    titles = ["image", "ground truth"] + [t for name, _, _ in views[0].rows for t in (name, f"{name}: errors")]
    lines = []
    for view, vid in zip(views, view_ids):
        panels = [_labelled(_panel(view.image), f"view {vid}"), _panel(view.truth)]
        panels += [_panel(p) for _, pred, err in view.rows for p in (pred, err)]
        white = np.full((panels[0].shape[0], GAP, 3), 255, np.uint8)
        lines.append(np.concatenate([x for p in panels for x in (p, white)][:-1], 1))
    panel_w, width = _panel(views[0].image).shape[1], lines[0].shape[1]
    head = Image.new("RGB", (width, TITLE_HEIGHT), "white")
    draw, font = ImageDraw.Draw(head), ImageFont.load_default()
    for c, title in enumerate(titles):
        draw.text((c * (panel_w + GAP) + 2, 2), title, fill=(0, 0, 0), font=font)
    gap = np.full((GAP, width, 3), 255, np.uint8)
    classes = sorted(k for k in set().union(*(v.present for v in views)) if k != IGNORE_LABEL)
    body = [np.asarray(head)] + [x for line in lines for x in (line, gap)]
    body.append(legend(views[0].colours, classes, width))
    with atomic_open(path, "wb") as f:
        Image.fromarray(np.concatenate(body, 0)).save(f, format="PNG")
