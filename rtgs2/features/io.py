"""Feature-network weights: one torch file holding the config and the state dict, and a JSON
card beside it (data, config, steps, wall time, commit, metrics, how to reproduce). The
shipped weights live in ``rtgs2/features/weights/`` and are the default everywhere.

Which file to use is decided here (:func:`resolve_feature_weights`), for training and
inference alike: a model that reads features records the weights it was trained with, and
features of other weights would mean nothing to it."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from rtgs2.features.ptv3 import GaussianFeatureNet, PTv3Config
from rtgs2.utils.errors import MissingFileError, Rtgs2Error, UserError
from rtgs2.utils.io import atomic_open, atomic_write_text, file_sha256, refuse_folder

FORMAT = "rtgs2-features-1"
WEIGHTS_DIR = Path(__file__).parent / "weights"
SHIPPED = WEIGHTS_DIR / "ptv3_small_synthrooms_v3.pt"


def shipped_with_sha256(sha256: str) -> Path | None:
    """The shipped weights file (any in ``WEIGHTS_DIR``) whose SHA-256 is ``sha256``, or None."""
    return next((p for p in sorted(WEIGHTS_DIR.glob("*.pt")) if file_sha256(p) == sha256), None)


def resolve_feature_weights(
    given: str | Path | None = None,
    *,
    recorded: str | Path | None = None,
    sha256: str | None = None,
    needed_by: str = "the model",
) -> Path:
    """The feature weights to extract features with, for a model that may record those it was
    trained with (a fusion model's card: their path ``recorded`` and hash ``sha256``).

    ``given`` (the user's --feature-weights) when set; else, when ``sha256`` is known,
    ``recorded`` if that file has it, else the shipped file that has it (a model may have been
    trained on earlier shipped features than today's default, and ``recorded`` may be relative
    to another folder); else ``recorded`` when that file exists; else :data:`SHIPPED`.
    ``needed_by`` names the model in the refusal.

    Raises:
        FileNotFoundError: the chosen file is missing (one line saying what to pass).
        Rtgs2Error: ``sha256`` is known and the chosen file's hash differs.
    """
    named = Path(recorded) if recorded else None
    if given is not None:
        path = Path(given)
    elif sha256:
        if named is not None and named.is_file() and file_sha256(named) == sha256:
            return named
        found = shipped_with_sha256(sha256)
        if found is not None:
            return found
        path = SHIPPED  # no shipped file has the recorded hash: refused below, saying what to pass
    else:
        path = named if named is not None and named.is_file() else SHIPPED
    if not path.is_file():
        if given is None and path == SHIPPED:
            raise MissingFileError(
                f"the shipped feature weights are not in this install ({SHIPPED}): train them "
                "(rtgs2 train features) and pass --feature-weights"
            )
        raise MissingFileError(f"feature weights {path} not found (--feature-weights)")
    if sha256 and file_sha256(path) != sha256:
        raise Rtgs2Error(
            f"feature weights {path} are not the ones {needed_by} was trained with "
            f"(its card records sha256 {sha256[:12]}...): pass those with --feature-weights"
        )
    return path


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
        raise MissingFileError(f"no {what} at {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a damaged or foreign file
        raise UserError(f"{path}: cannot read as rtgs2 feature weights ({type(e).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise UserError(f"{path}: not an rtgs2 feature-network file (expected format {FORMAT!r})")
    try:
        cfg = PTv3Config.from_json(blob["config"])
    except (TypeError, ValueError) as e:
        raise UserError(f"{path}: invalid network config ({e})") from None
    model = GaussianFeatureNet(cfg)
    own, saved = model.state_dict(), blob["state_dict"]
    missing, unexpected = sorted(set(own) - set(saved)), sorted(set(saved) - set(own))
    shapes = [k for k in saved if k in own and own[k].shape != saved[k].shape]
    if missing or unexpected or shapes:
        raise UserError(
            f"{path}: weights do not fit the {cfg.name!r} network of its config "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shapes {shapes[:3]})"
        )
    model.load_state_dict(saved)
    return model.eval()
