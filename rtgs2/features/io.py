"""Feature-network weights: one torch file holding the config and the state dict, and a JSON
card beside it (data, config, steps, wall time, commit, metrics, how to reproduce). The
shipped weights live in ``rtgs2/features/weights/`` and are the default everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from rtgs2.features.ptv3 import GaussianFeatureNet, PTv3Config
from rtgs2.utils.io import atomic_open, atomic_write_text, refuse_folder

FORMAT = "rtgs2-features-1"
WEIGHTS_DIR = Path(__file__).parent / "weights"
SHIPPED = WEIGHTS_DIR / "ptv3_small_synthrooms_v1.pt"


def shipped_with_sha256(sha256: str) -> Path | None:
    """The shipped weights file (any in ``WEIGHTS_DIR``) whose SHA-256 is ``sha256``, or None."""
    from rtgs2.utils.io import file_sha256

    return next((p for p in sorted(WEIGHTS_DIR.glob("*.pt")) if file_sha256(p) == sha256), None)


def card_path(weights: str | Path) -> Path:
    """The JSON card beside a weights file."""
    return Path(weights).with_suffix(".json")


def save_feature_net(model: GaussianFeatureNet, path: str | Path, card: dict | None = None) -> Path:
    """Write the network's config and weights (atomically) and, if given, its card."""
    model = getattr(model, "module", model)  # a DDP wrapper holds the network in .module
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_open(path, "wb") as f:
        torch.save({"format": FORMAT, "config": model.cfg.to_json(), "state_dict": state}, f)
    if card is not None:
        atomic_write_text(card_path(path), json.dumps(card, indent=1) + "\n")
    return Path(path)


def load_feature_net(path: str | Path | None = None) -> GaussianFeatureNet:
    """The network saved at ``path`` (default: the shipped weights), in eval mode on the CPU.

    Raises:
        FileNotFoundError: no such file (or no shipped weights in this install).
        ValueError: not a feature-network file, or weights that do not fit their config.
    """
    path = Path(path) if path is not None else SHIPPED
    refuse_folder(path, "feature weights")
    if not path.is_file():
        what = "shipped feature weights" if path == SHIPPED else "feature weights file"
        raise FileNotFoundError(f"no {what} at {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a damaged or foreign file
        raise ValueError(f"{path}: cannot read as rtgs2 feature weights ({type(e).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ValueError(f"{path}: not an rtgs2 feature-network file (expected format {FORMAT!r})")
    try:
        cfg = PTv3Config.from_json(blob["config"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: invalid network config ({e})") from None
    model = GaussianFeatureNet(cfg)
    own, saved = model.state_dict(), blob["state_dict"]
    missing, unexpected = sorted(set(own) - set(saved)), sorted(set(saved) - set(own))
    shapes = [k for k in saved if k in own and own[k].shape != saved[k].shape]
    if missing or unexpected or shapes:
        raise ValueError(
            f"{path}: weights do not fit the {cfg.name!r} network of its config "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shapes {shapes[:3]})"
        )
    model.load_state_dict(saved)
    return model.eval()
