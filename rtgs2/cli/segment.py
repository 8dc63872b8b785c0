"""``rtgs2 segment``: labelled views of any 3DGS .ply (:func:`rtgs2.pipeline.segment.segment_scene`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

import tyro

from rtgs2.cli.common import FrameArg, FrameOptions
from rtgs2.pipeline.view_defaults import ORBIT_VIEWS, VIEW_HEIGHT, VIEW_WIDTH  # plain constants: no torch


@dataclass
class Segment:
    """Label views of a 3DGS .ply with a fusion model: per-frame PNGs (image | labels), a GIF with a
    legend and segment.json (classes seen, FPS) in OUT; prints the FPS. Views come from a
    cameras.json or an automatic orbit (from inside a room-sized scene, turned z-up by --up, else around it)."""

    scene: Path
    """3DGS .ply (INRIA layout, any trainer); features are extracted once and cached when it has no f_vi_*."""
    out: Path
    """Output folder (new, empty, or an earlier segment output)."""
    cameras: Optional[Path] = None
    """INRIA cameras.json giving the views (default: an orbit)."""
    views: Annotated[Optional[int], tyro.conf.arg(help=f"Views on the automatic orbit (default {ORBIT_VIEWS}; not with --cameras), as in rtgs2 lift.")] = None
    width: int = VIEW_WIDTH
    """Image width of the orbit's views, pixels."""
    height: int = VIEW_HEIGHT
    """Image height of the orbit's views, pixels."""
    weights: Optional[Path] = None
    """Fusion weights (default: the shipped SynthRooms model)."""
    feature_weights: Optional[Path] = None
    """Feature-network weights for scenes without f_vi_* (default: those on the fusion model's card, else the shipped ones)."""
    frame: FrameArg = FrameOptions()
    """The scene's units and up axis (features and automatic cameras use them; the choice is printed)."""
    exact_render: bool = False
    """Render with the exact blend kernel, Z averaged to the network's resolution afterwards (the per-frame
    path as it was before its own kernel; slower, for comparison)."""
    onnx: Optional[Path] = None
    """Run the fusion network from this ONNX file with onnxruntime (rtgs2 export onnx --coarse, float or --int8, of the --weights model; at the views' size)."""

    compile_network: bool = True
    """Run the fusion network compiled by torch.compile (~30 % faster on the CPU; its first frame compiles: ~1 min
    on a fresh machine, seconds once cached; eager where compiling fails). Not with --onnx."""
    precision: Literal["auto", "float32", "bfloat16"] = "auto"
    """The compiled network's arithmetic: float32, bfloat16 (weights frozen into code built ahead of time, kept in the
    cache: ~50 s the first time per model and size, ~1-2 s to load later; the network 0.55-0.7x float32's time on a CPU
    with AMX or AVX512-BF16, labels agree on ~99.3-99.7 % of pixels), or auto: bfloat16 where the CPU has either, else
    float32. The eager and ONNX networks run in their own precision."""
    image_fallback: bool = True
    """Where the scene's features lie out of the distribution the model was trained on and its card names an
    image-only fallback (the shipped models' do: on a path-traced photoreal room 33.1 % mIoU; the default late-fusion
    model without it 32.9, the mid-fusion one 15.4), label with that (said when it happens); --no-image-fallback always
    runs --weights."""
    network_scale: Union[Literal["auto"], int] = "auto"
    """The network reads each view at 1/s of its size (Î averaged over s x s pixels, Z rendered coarser, labels at
    the view's size): auto = the largest power of two keeping it at least 320x240, the models' training views (2 at
    640x480: the network a third of its time, and on the v3 test rooms 51.5 % mIoU against 46.2 read whole); 1 = every
    view whole."""

    def main(self) -> None:
        from rtgs2.pipeline.segment import segment_scene

        res = segment_scene(
            self.scene, self.out, cameras=self.cameras, views=self.views, width=self.width, height=self.height,
            weights=self.weights, feature_weights=self.feature_weights,
            metres_per_unit=self.frame.metres_per_unit, up=self.frame.up, exact_render=self.exact_render, onnx=self.onnx,
            compile_network=self.compile_network and self.onnx is None, precision=self.precision,
            network_scale=self.network_scale, image_fallback=self.image_fallback,
        )  # fmt: skip
        print(f"frame: {res.frame.note}")
        if res.fallback:
            print(f"fallback: {res.fallback}")
        if res.orbit is not None:
            print(res.orbit.describe())
        print(f"{len(res.frames)} frames, {res.gif} and {res.summary}; {res.frame_rate.describe()}")
