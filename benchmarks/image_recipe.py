"""Why the image-only fusion model learns slowly: short runs of recipe variants, side by side.

    .venv/bin/python benchmarks/image_recipe.py --data ~/.cache/rtgs2/synthrooms/v2 --scenes 1 --steps 300
    .venv/bin/python benchmarks/image_recipe.py --data ... --variants base ls1 cnn --scenes 8 --steps 800

Each training view (index % 8 != 0) of the first ``scenes`` training rooms is rendered once
(numba, the scene's own cameras) and kept in memory; each variant then trains the small
image-only VDVI network from the same seed for ``steps`` steps of ``batch`` views drawn from
them, with the training's augmentations (zoom + crop, flip, colour jitter, cutout) and loss
(cross-entropy with label smoothing 0.1, CeCo 0.4 unless the variant says otherwise), AdamW,
a linear warm-up over a tenth of the steps, then a linear decay. Reported: the train accuracy
over the last 20 steps and the mIoU / oAcc on the held-out views (index % 8 == 0) of the same
rooms, which is the validation ``rtgs2 train fusion`` reports.

Variants (``VARIANTS``): the shipped recipe (``base``: ConvNeXt blocks with layer scale 1e-6,
lr 3e-4) and one change each: the learning rate, the layer scale's initial value, no CeCo, no
augmentation (or a lighter one), a plain CNN encoder (3x3 convs, BatchNorm, ReLU; same widths and strides),
the ConvNeXt encoder behind the CNN's stem instead of its 4x4 patchify, and the network's own
ResNet Enc_VD (``VDVISize.vd_block="resnet"``: stride-2 blocks instead of separate convs).
Appends a dated table to RESULTS.md unless ``--no-append``.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import tyro

from rtgs2.data.readers.synthrooms import open_synthrooms
from rtgs2.data.segmentation import confusion_matrix, segmentation_metrics
from rtgs2.data.view_transforms import ViewSample
from rtgs2.fusion.loss_config import FusionLossConfig
from rtgs2.fusion.losses import FusionLoss
from rtgs2.fusion.vdvi import ConvNeXtBlock, VDVINet, build_fusion
from rtgs2.train.config import FusionTrainConfig
from rtgs2.train.fusion_data import augmentation, collate, load_fusion_scene, render_sample

RESULTS = Path(__file__).with_name("RESULTS.md")


@dataclass(frozen=True)
class Variant:
    lr: float = 3e-4
    layer_scale: float = 1e-6
    ceco_weight: float = 0.4
    augment: str = "full"  # "full" (the training's), "light" (zoom 0.9-1.2, no cutout) or "none"
    encoder: str = "convnext"  # "cnn", "convstem" (ConvNeXt blocks after the CNN's two 3x3 stride-2 convs) or "resnet"


VARIANTS = {
    "base": Variant(),
    "lr1e-3": Variant(lr=1e-3),
    "lr3e-3": Variant(lr=3e-3),
    "ls0.1": Variant(layer_scale=0.1),
    "ls1": Variant(layer_scale=1.0),
    "ls1-lr1e-3": Variant(layer_scale=1.0, lr=1e-3),
    "noceco": Variant(ceco_weight=0.0),
    "noaug": Variant(augment="none"),
    "cnn": Variant(encoder="cnn", lr=1e-3),
    "lr2e-3": Variant(lr=2e-3),
    "lr3e-3-light": Variant(lr=3e-3, augment="light"),
    "lr3e-3-light-noceco": Variant(lr=3e-3, augment="light", ceco_weight=0.0),
    "cnn-lr3e-3-light": Variant(encoder="cnn", lr=3e-3, augment="light"),
    "convstem-lr3e-3-light": Variant(encoder="convstem", lr=3e-3, augment="light"),
    "resnet-lr3e-3-light": Variant(encoder="resnet", lr=3e-3, augment="light"),
}
AUGMENT = {
    "full": FusionTrainConfig(),
    "light": FusionTrainConfig(zoom_min=0.9, zoom_max=1.2, cutout=0),
    "none": FusionTrainConfig(zoom_min=1, zoom_max=1, flip=0, colour_jitter=0, cutout=0),
}


@dataclass
class Config:
    data: Path
    """SynthRooms root."""
    variants: list[str] = field(default_factory=lambda: ["base", "lr1e-3", "ls1", "ls1-lr1e-3", "cnn"])
    scenes: int = 1
    """Training rooms used (the first ones)."""
    steps: int = 300
    batch: int = 4
    seed: int = 0
    threads: int = 2
    append: bool = True


def conv_stem(widths: tuple[int, ...]) -> nn.Module:
    """Two 3x3 stride-2 convs with BatchNorm and ReLU (stride 4), the CNN encoder's stem."""
    return nn.Sequential(
        nn.Conv2d(3, widths[0] // 2, 3, 2, 1, bias=False), nn.BatchNorm2d(widths[0] // 2), nn.ReLU(inplace=True),
        nn.Conv2d(widths[0] // 2, widths[0], 3, 2, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True),
    )  # fmt: skip


class BasicBlock(nn.Module):
    """Two 3x3 convs with BatchNorm and ReLU, residual."""

    def __init__(self, dim: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(dim, dim, 3, padding=1, bias=False), nn.BatchNorm2d(dim), nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, padding=1, bias=False), nn.BatchNorm2d(dim),
        )  # fmt: skip
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class PlainCNNEncoder(nn.Module):
    """A ResNet-like encoder with the ConvNeXt encoder's widths, depths and strides (4-32)."""

    def __init__(self, depths: tuple[int, ...], widths: tuple[int, ...]):
        super().__init__()

        def down(cin: int, cout: int) -> nn.Module:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

        self.stem = conv_stem(widths)
        self.stages = nn.ModuleList(
            nn.Sequential(*([down(widths[i - 1], widths[i])] if i else []), *(BasicBlock(widths[i]) for _ in range(d)))
            for i, d in enumerate(depths)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out


def build(variant: Variant, num_classes: int) -> VDVINet:
    block = "resnet" if variant.encoder == "resnet" else "convnext"
    model = build_fusion("small", "image", num_classes=num_classes, vd_block=block)
    if variant.encoder == "cnn":
        model.vd = PlainCNNEncoder(model.size.vd_depths, model.size.vd_widths)
    elif variant.encoder == "convstem":
        model.vd.stem = conv_stem(model.size.vd_widths)
    for m in model.modules():
        if isinstance(m, ConvNeXtBlock):
            m.gamma.data.fill_(variant.layer_scale)
    return model.to(memory_format=torch.channels_last)


def evaluate(model: VDVINet, held_out: list[ViewSample], num_classes: int) -> dict:
    confusion = np.zeros((num_classes, num_classes), np.int64)
    model.eval()
    with torch.no_grad():
        for s in held_out:
            b = collate([s], torch.device("cpu"))
            confusion += confusion_matrix(model(b.image).argmax(1).numpy(), b.labels.numpy(), num_classes)
    model.train()
    return segmentation_metrics(confusion)


def run(cfg: Config, name: str, train: list[ViewSample], held_out: list[ViewSample], num_classes: int) -> dict:
    variant = VARIANTS[name]
    torch.manual_seed(cfg.seed)
    model = build(variant, num_classes)
    loss_fn = FusionLoss(FusionLossConfig(ceco_weight=variant.ceco_weight), num_classes, model.embedding_dim)
    opt = torch.optim.AdamW(model.parameters(), lr=variant.lr, weight_decay=0.01)
    augment = augmentation(AUGMENT[variant.augment])
    rng = np.random.default_rng(cfg.seed)
    warmup = cfg.steps // 10
    accs, t0 = [], time.perf_counter()
    for step in range(1, cfg.steps + 1):
        lr = variant.lr * (step / warmup if step <= warmup else 1 - (step - 1 - warmup) / (cfg.steps - warmup))
        for g in opt.param_groups:
            g["lr"] = lr
        picks = rng.choice(len(train), cfg.batch, replace=False)
        b = collate([augment(train[i], rng) for i in picks], torch.device("cpu"))
        out = model.forward_with_embedding(b.image, None)
        loss = loss_fn(out, b.labels, b.depth)["total"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        keep = b.labels != 255
        accs.append(float((out.logits.argmax(1) == b.labels)[keep].float().mean()))
    m = evaluate(model, held_out, num_classes)
    return {"variant": name, "train_acc": float(np.mean(accs[-20:])), "val_miou": m["miou"], "val_oacc": m["oacc"],
            "seconds": time.perf_counter() - t0}  # fmt: skip


def main(cfg: Config) -> None:
    torch.set_num_threads(cfg.threads)
    ds = open_synthrooms(cfg.data)
    names = ds.label_map.names
    train, held_out = [], []
    for views in ds.train[: cfg.scenes]:
        scene = load_fusion_scene(views, None, torch.device("cpu"))
        train += [render_sample(scene, v) for v in scene.train_views]
        held_out += [render_sample(scene, v) for v in scene.held_out_views]
    print(f"{len(train)} training views, {len(held_out)} held-out views of {cfg.scenes} room(s); {cfg.steps} steps")
    print(f"{'variant':<12} {'train acc':>9} {'val mIoU':>9} {'val oAcc':>9} {'s':>6}")
    rows = []
    for name in cfg.variants:
        r = run(cfg, name, train, held_out, len(names))
        rows.append(f"| {name} | {VARIANTS[name]} | {100 * r['train_acc']:.1f} | {100 * r['val_miou']:.1f} | "
                    f"{100 * r['val_oacc']:.1f} | {r['seconds']:.0f} |")
        print(f"{name:<12} {100 * r['train_acc']:9.1f} {100 * r['val_miou']:9.1f} {100 * r['val_oacc']:9.1f} {r['seconds']:6.0f}")
    if cfg.append:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        head = (f"\n## image_recipe: image-only fusion, recipe variants — {now}\n\n"
                f"`benchmarks/image_recipe.py --data {cfg.data} --scenes {cfg.scenes} --steps {cfg.steps}` "
                f"(batch {cfg.batch}, {len(train)} training / {len(held_out)} held-out views, {cfg.threads} threads, "
                f"load averages at the end {load}):\n\n"
                "| variant | recipe | train acc % (last 20 steps) | held-out mIoU % | held-out oAcc % | s |\n"
                "| --- | --- | --- | --- | --- | --- |\n")
        with RESULTS.open("a") as f:
            f.write(head + "\n".join(rows) + "\n")

if __name__ == "__main__":
    main(tyro.cli(Config))
