"""``results.json`` and ``results.md`` of ``rtgs2 eval``, both from one results dict
(:func:`rtgs2.eval.run.summarize`), so that the table shows exactly the numbers of the JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rtgs2.utils.io import atomic_write_text

# Columns of the main table (the paper's Tables 1 and 4): key in a row, header, format.
COLUMNS = (
    ("miou", "mIoU", "pct"),
    ("macc", "mAcc", "pct"),
    ("oacc", "oAcc", "pct"),
    ("psnr", "PSNR", ".2f"),
    ("ssim", "SSIM", ".3f"),
    ("lpips", "LPIPS", ".3f"),
    ("fps", "FPS", ".1f"),
    ("view_consistency", "view consistency", "pct"),
)
LIFTED = "lifted (3D labels)"  # the main table's row of the rendered lifted labels
LIFTED_COLUMNS = ("miou", "macc", "oacc", "view_consistency")  # the columns it has ("-" in the others)
# Columns of the "Labels on the Gaussians" table: key in a scene's 3D scores, header.
GAUSSIAN_COLUMNS = (
    ("accuracy", "acc."),
    ("miou", "mIoU"),
    ("accuracy_opacity", "acc. (opacity)"),
    ("miou_opacity", "mIoU (opacity)"),
    ("accuracy_visible", "acc. (visibility)"),
    ("miou_visible", "mIoU (visibility)"),
    ("labelled", "labelled"),
)


def finite_or_none(x):
    """``x`` with NaN and infinities (in nested dicts and lists) as None: JSON has no NaN."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_or_none(v) for v in x]
    return x


def _cell(x: float | None, fmt: str) -> str:
    """A number as the table shows it ("n/a": undefined or not measured); fractions as %."""
    if x is None:
        return "n/a"
    if fmt == "pp":  # a difference of fractions, in percentage points
        return f"{100 * x:+.1f}"
    return f"{100 * x:.1f}" if fmt == "pct" else format(x, fmt)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|"] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


def markdown(results: dict) -> str:
    """The text of ``results.md``."""
    rows, scenes = results["rows"], results["scenes"]
    views = "held-out views (every 8th)" if results["views"] == "test" else "all views"
    pixels = results["averaging"] == "pixels"
    averaging = "one confusion matrix over all pixels" if pixels else "the mean of per-image scores"
    setup = results["fps_setup"]
    shapes = ", ".join(f"{n} ({s['views']} views, {s['width']}x{s['height']})" for n, s in scenes.items())
    main = [[name] + [_cell(r[k], f) for k, _, f in COLUMNS] for name, r in rows.items()]
    lift = results["lift"]
    if lift:
        main.append([LIFTED] + [_cell(lift[k], f) if k in LIFTED_COLUMNS else "-" for k, _, f in COLUMNS])
    ceiling = _cell(results["ground_truth_view_consistency"], "pct")
    lines = [
        "# rtgs2 eval",
        "",
        f"Data `{results['data']}` ({results['data_format']}, label set {results['label_set']}); {views} of {shapes}.",
        "",
        *([f"Made by `{results['command']}` (rtgs2 commit {results.get('commit', 'unknown')[:12]}).", ""]
          if results.get("command") else []),
        *_table(["model"] + [h for _, h, _ in COLUMNS], main),
        "",
        f"- mIoU, mAcc, oAcc and view consistency in %, PSNR in dB. mIoU, mAcc, oAcc: {averaging}, means over the "
        "classes present in the ground truth; pixels no Gaussian covers count as wrong.",
        "- PSNR, SSIM and LPIPS: the rendered image against the data's images (the same Gaussians for every model).",
        f"- FPS: {setup['path']}; median over {setup['frames']} frames after {setup['warmup']} warm-up frames, "
        f"{setup['threads']} torch thread(s), at each scene's resolution; the median over scenes.",
        f"- View consistency of the ground truth (the ceiling): {ceiling} %.",
    ]
    if results["lpips_unavailable"]:
        lines.append(f"- LPIPS: n/a ({results['lpips_unavailable']}).")
    for key, what in (("ignored_classes", "Not scored (data classes the model does not know)"),
                      ("absent_classes", "Model classes the data does not have")):  # fmt: skip
        listed = [f"{name}: {', '.join(r[key])}" for name, r in rows.items() if r[key]]
        if listed:
            lines.append(f"- {what}: " + "; ".join(listed) + ".")
    fell_back = {name: [n for n, sc in r["scenes"].items() if sc.get("fallback")] for name, r in rows.items()}
    fallbacks = [f"{name} on {', '.join(scenes)}" for name, scenes in fell_back.items() if scenes]
    if fallbacks:
        lines.append(
            "- Image-only fallback (the scene's features out of the model's training distribution; its card names "
            f"the fallback; results.json: feature_shift per scene): {'; '.join(fallbacks)}."
        )
    if results["finetune_steps"]:
        seen = "; scored on all views, its training views among them." if results["views"] == "all" else "."
        lines.append(
            f"- fine-tuned: {results['finetuned_from']} fine-tuned for {results['finetune_steps']} steps on each "
            f"scene's training views (finetune/<scene>/last.pt){seen}"
        )
    if lift:
        seen = "; scored on all views, the training views among them" if results["views"] == "all" else ""
        lines.append(
            f"- {LIFTED}: {lift['row']}'s labels of each scene's training views lifted onto the Gaussians (votes "
            f"weighted by blending weight), rendered in the scored views{seen}; see Labels on the Gaussians."
        )
    lines += ["", "## mIoU per scene (%)", ""]
    lines += _table(["scene"] + list(rows), [[n] + [_cell(r["scenes"][n]["miou"], "pct") for r in rows.values()] for n in scenes])
    lines += ["", "## IoU per class (%)", ""]
    classes = [c for c in next(iter(rows.values()))["per_class"] if any(_present(r, c) for r in rows.values())]
    per_class = [[c] + [_cell(r["per_class"][c]["iou"], "pct") if c in r["per_class"] else "-" for r in rows.values()]
                 for c in classes]  # fmt: skip
    lines += _table(["class"] + list(rows), per_class)
    if lift:
        lines += ["", "## Labels on the Gaussians (%)", ""] + _gaussian_table(lift)
    if results["figures"]:
        lines += ["", "## Figures", ""] + [f"- [{f}]({f})" for f in results["figures"]]
        lines += ["", "Columns: the data's image, its ground truth, then each model's prediction and errors "
                  "(red: wrong or uncovered, black: not scored)."]  # fmt: skip
    return "\n".join(lines) + "\n"


def _gaussian_table(lift: dict) -> list[str]:
    """Lines of the "Labels on the Gaussians" table: per scene and over all, the 3D scores ("-"
    without a room) and the view consistency of the per-view predictions and of the lifted labels."""
    header = ["scene"] + [h for _, h in GAUSSIAN_COLUMNS] + ["consistency per view", "consistency lifted", "gain (pp)"]

    def row(name: str, gaussians: dict | None, per_view: float | None, lifted: float | None, gain: float | None) -> list[str]:
        scores = [_cell(gaussians[k], "pct") if gaussians else "-" for k, _ in GAUSSIAN_COLUMNS]
        return [name] + scores + [_cell(per_view, "pct"), _cell(lifted, "pct"), _cell(gain, "pp")]

    rows = [
        row(n, s["gaussians"], *(s["views"][k] for k in ("consistency_per_view", "consistency_lifted", "consistency_gain")))
        for n, s in lift["scenes"].items()
    ]
    pooled = (lift[k] for k in ("view_consistency_per_view", "view_consistency", "consistency_gain"))
    rows.append(row("all", lift["gaussians"], *pooled))
    return _table(header, rows) + [
        "",
        "Each Gaussian's lifted label against the class of the nearest surface of the scene's room (SynthRooms only; "
        "unlabelled Gaussians count as wrong): plain, weighted by opacity, and weighted by how much the lifting views "
        "saw it; labelled: the share with a label. 3D scores of all: the mean over scenes; consistency: pooled. "
        "View consistency of the first model's per-view predictions and of the rendered lifted labels, on the scored views.",
    ]


def _present(row: dict, name: str) -> bool:
    """Whether class ``name`` has ground truth in the scored views (its IoU is defined)."""
    return row["per_class"].get(name, {}).get("iou") is not None


def write_results(out: Path, results: dict) -> None:
    """``out/results.json`` and ``out/results.md`` of ``results`` (no NaN: see :func:`finite_or_none`),
    written atomically."""
    atomic_write_text(out / "results.json", json.dumps(results, indent=1, allow_nan=False) + "\n")
    atomic_write_text(out / "results.md", markdown(results))
