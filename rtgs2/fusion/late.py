"""A late-fusion model (``VDVINet(fusion="late")``) joined from an image-only and a Z-only model.

A late-fusion model trained with its per-head losses (``rtgs2 train fusion --fusion late``) learns
each head as the single-input model of the same recipe learns it: its gradients are clipped per
branch and nothing is shared. So the image-only and Z-only rows of a same-budget ablation already
hold the two branches of the full row, and joining them costs no training: Enc_VD and the
image-only model's decoder become ``vd`` and ``image_head``, Enc_VI and the Z-only model's
decoder ``vi`` and ``decode_head``. ``rtgs2 train join`` writes the joined file and its card.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from rtgs2.fusion.io import load_fusion, read_fusion_card, save_fusion
from rtgs2.fusion.vdvi import SIZES, VDVINet, VDVISize
from rtgs2.utils.errors import CheckpointMismatchError, UserError
from rtgs2.utils.git import git_commit
from rtgs2.utils.io import atomic_write_text, file_sha256

# what the two models must share to be one network's branches
SHARED = ("num_classes", "class_names", "feature_dim", "feature_stride")
# each branch's own size fields: Enc_VD's for the image model, Enc_VI's (and psi's, unused) for Z's
IMAGE_FIELDS = ("vd_depths", "vd_widths", "vd_block")


def join_late(image: VDVINet, features: VDVINet) -> VDVINet:
    """The late-fusion model whose image branch is ``image``'s (``inputs="image"``) and whose Z
    branch is ``features``' (``inputs="features"``), in eval mode on the CPU.

    Raises:
        CheckpointMismatchError: a model of other inputs, or the two differ in classes, feature
            width, resolution of Z or decoder width.
    """
    diff = [f"{name} model has inputs={m.inputs!r}, not {want!r}" for name, m, want in
            (("the image", image, "image"), ("the Z", features, "features")) if m.inputs != want]  # fmt: skip
    a, b = image.config, features.config
    diff += [f"{k}: image model {a[k]!r}, Z model {b[k]!r}" for k in SHARED if a[k] != b[k]]
    if image.size.decoder_dim != features.size.decoder_dim or image.size.decoder_dropout != features.size.decoder_dropout:
        diff.append(f"decoder: image model {image.size.decoder_dim} wide, Z model {features.size.decoder_dim}")
    if diff:
        raise CheckpointMismatchError("cannot join these models into one late-fusion model: " + "; ".join(diff))
    size = _joined_size(image.size, features.size)
    model = VDVINet(size, inputs="both", fusion="late", num_classes=a["num_classes"], feature_dim=a["feature_dim"],
                    class_names=a["class_names"])  # fmt: skip
    image_state, z_state = image.state_dict(), features.state_dict()
    state = {k: v for k, v in image_state.items() if k.startswith("vd.")}
    state.update({"image_head." + k[len("decode_head.") :]: v for k, v in image_state.items() if k.startswith("decode_head.")})
    state.update({k: v for k, v in z_state.items() if k.startswith(("vi.", "decode_head."))})
    model.load_state_dict(state)  # strict: every tensor of the joined model comes from one of the two
    return model.eval()


def _joined_size(image: VDVISize, features: VDVISize) -> VDVISize:
    """The Z model's size with the image model's Enc_VD; named after the variant it then equals
    (else the Z model's: ``VDVINet.config`` records the fields that differ from it)."""
    size = replace(features, **{k: getattr(image, k) for k in IMAGE_FIELDS})
    for name, variant in SIZES.items():
        if replace(size, name=name) == variant:
            return variant
    return size


def join_late_files(image: str | Path, features: str | Path, out: str | Path) -> Path:
    """Join the fusion models saved at ``image`` and ``features`` (:func:`join_late`) into ``out``
    (a ``.pt`` file, refused when it exists) with a card: the Z model's data, feature weights
    and feature statistics (the joined model reads the same Z), each source's card, and the
    commands that remake it. Returns ``out``."""
    image, features, out = Path(image), Path(features), Path(out)
    if out.suffix != ".pt":
        raise UserError(f"--out {out}: name the joined weights file with a .pt suffix")
    if out.exists() or out.with_suffix(".json").exists():
        raise UserError(f"{out} (or its card) exists: choose another --out or delete it first")
    model = join_late(load_fusion(image), load_fusion(features))
    cards = {"image": read_fusion_card(image), "features": read_fusion_card(features)}
    z = cards["features"]
    card = {
        "model": f"rtgs2.fusion.vdvi {model.size.name}, inputs=both, late fusion (joined)",
        "data": z.get("data"),
        "train_scenes": z.get("train_scenes"),
        "val": z.get("val"),
        "feature_weights": z.get("feature_weights"),
        "feature_weights_sha256": z.get("feature_weights_sha256"),
        "feature_stats": z.get("feature_stats"),
        "joined": {
            name: {"weights": str(path), "sha256": file_sha256(path), "card": cards[name]}
            for name, path in (("image", image), ("features", features))
        },
        "commit": git_commit(),
        "reproduce": f"rtgs2 train join --image {image} --features {features} --out {out}",
    }
    if cards["image"].get("train_scenes") != z.get("train_scenes"):
        card["note"] = "the image and Z branches were trained on different scenes (each source's card lists them)"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_fusion(model, out)
    atomic_write_text(out.with_suffix(".json"), json.dumps(card, indent=1) + "\n")
    return out
