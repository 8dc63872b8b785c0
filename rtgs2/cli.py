"""The ``rtgs2`` command: one subcommand per stage, each a dataclass whose ``main()`` imports
its stage lazily and calls one library function (no logic here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

import tyro

from rtgs2.recon.config import ReconConfig  # a plain dataclass: no torch, no renderer


@dataclass
class Demo:
    """Build a SynthRooms room, render a walk through it (RGB, depth, labels) into OUT as PNGs and a GIF, print the FPS."""

    out: Path = Path("outputs/demo")
    """Output folder."""
    num_views: int = 24
    """Views on the orbit."""
    width: int = 320
    """Image width, pixels."""
    height: int = 240
    """Image height, pixels."""
    seed: int = 0
    """Seed of the built-in scene."""

    def main(self) -> None:
        from rtgs2.demo import run_demo

        run_demo(self.out, num_views=self.num_views, width=self.width, height=self.height, seed=self.seed)


@dataclass
class DataCheck:
    """Open a data set folder and report per scene: frame counts, label histogram, unknown label
    ids and a multi-view pose check (depth reprojected between neighbouring views); writes a PNG
    of a few reprojections per scene."""

    path: tyro.conf.Positional[Path]
    """Data set folder (Replica, ScanNet, ScanNet++, 3DGS output, COLMAP, nerfstudio, SynthRooms)."""
    out: Path = Path("outputs/data_check")
    """Folder for the reprojection PNGs."""
    label_set: Optional[str] = None
    """Label set name or LabelMap JSON path (default: the format's own; see `rtgs2 data list`)."""
    split_scenes: Optional[str] = None
    """Scene split name or JSON path (e.g. replica_rtgs2)."""
    frame_stride: int = 1
    """Keep every n-th frame of each scene."""
    num_pairs: int = 4
    """View pairs per scene in the pose check."""
    max_label_frames: int = 50
    """Frames per scene read for the label histogram (evenly spaced)."""

    def main(self) -> None:
        from rtgs2.data.check import run_data_check

        run_data_check(self.path, self.out, self.label_set, self.split_scenes, self.frame_stride, self.num_pairs, self.max_label_frames)


@dataclass
class DataList:
    """List the shipped label sets and scene splits, with where each was taken from."""

    def main(self) -> None:
        from rtgs2.data.open import print_catalog

        print_catalog()


@dataclass
class Data:
    """Data set tools: `check` a folder, `list` label sets and splits."""

    command: tyro.conf.OmitSubcommandPrefixes[
        Union[Annotated[DataCheck, tyro.conf.subcommand("check")], Annotated[DataList, tyro.conf.subcommand("list")]]
    ]

    def main(self) -> None:
        self.command.main()


@dataclass
class Synth:
    """Build (or finish) a SynthRooms data set: procedural labelled rooms, ground truth and a 3DGS per scene."""

    out: Optional[Path] = None
    """Data set root (default: $RTGS2_CACHE or ~/.cache/rtgs2, then synthrooms/<preset>)."""
    preset: str = "mini"
    """Preset: mini (tests, seconds) or v1 (benchmark, fitted Gaussians, hours)."""
    scenes: Optional[int] = None
    """Scenes in all, train + test (default: the preset's)."""
    test_fraction: Optional[float] = None
    """Share of the scenes held out as test scenes, 0-1 (default: the preset's, 0.2)."""
    seed: Optional[int] = None
    """Data set seed (default: the preset's)."""
    views: Optional[int] = None
    """Views per scene (default: the preset's)."""
    size: Optional[tuple[int, int]] = None
    """Image size W H, pixels (default: the preset's)."""
    gaussians: Optional[Literal["surface", "fitted"]] = None
    """3DGS per scene: surface (sampled discs) or fitted (rtgs2.recon) (default: the preset's)."""

    def main(self) -> None:
        from rtgs2.data.synthrooms.build import build_synthrooms

        overrides = {"num_scenes": self.scenes, "test_fraction": self.test_fraction, "seed": self.seed}
        overrides.update(num_views=self.views, gaussians=self.gaussians)
        if self.size is not None:
            overrides.update(width=self.size[0], height=self.size[1])
        try:
            root = build_synthrooms(self.out, self.preset, **{k: v for k, v in overrides.items() if v is not None})
        except ValueError as e:  # bad input: a message, not a traceback
            raise SystemExit(f"rtgs2 synth: {e}") from e
        print(f"SynthRooms data set ready: {root}")


@dataclass
class SynthReport:
    """Print a SynthRooms data set's per-class pixel share, the scores of two colour-only pixel
    classifiers (k-NN and an RGB histogram; train scenes -> test scenes) beside the majority-class
    rate, the build time and size, and the held-out PSNR / SSIM of the scenes' 3DGS."""

    data: Path
    """Data set root."""
    k: int = 15
    """Neighbours of the k-NN classifier."""
    pixels_per_view: int = 500
    """Random labelled pixels sampled per view."""
    seed: int = 0
    """Seed of the pixel sampling."""
    fit_quality: bool = True
    """Render each scene's 3DGS at its held-out views and print PSNR / SSIM (about 1 s a scene)."""

    def main(self) -> None:
        from rtgs2.data.synthrooms.report import print_report

        try:
            print_report(self.data, self.k, self.pixels_per_view, self.seed, self.fit_quality)
        except ValueError as e:
            raise SystemExit(f"rtgs2 synth-report: {e}") from e


@dataclass
class Recon:
    """Fit a 3DGS reconstruction to the posed training views of a data set (INRIA-layout
    output, checkpoints, resume): OUT/point_cloud/iteration_N/point_cloud.ply, OUT/cameras.json."""

    data: Path
    """Data set folder (any format open_dataset reads; one scene or several)."""
    out: Path
    """Output folder (one sub-folder per scene when the data set has several)."""
    config: Annotated[ReconConfig, tyro.conf.arg(name="")] = ReconConfig()
    scene: Optional[str] = None
    """Only this scene (default: all)."""
    init: Literal["auto", "sfm", "depth"] = "auto"
    """Initial points: the reader's SfM points, back-projected depth, or auto (SfM if present)."""
    max_init_points: int = 100_000
    """Most initial points drawn from the depth maps."""

    def main(self) -> None:
        from rtgs2.data.reconstruct import run_recon

        try:
            outs = run_recon(
                self.data, self.out, self.config, scene=self.scene, init=self.init, max_init_points=self.max_init_points
            )
        except (ValueError, FileNotFoundError) as e:  # bad input: a message, not a traceback
            raise SystemExit(f"rtgs2 recon: {e}") from e
        print("reconstructions written: " + ", ".join(map(str, outs)))


Command = Union[
    Annotated[Demo, tyro.conf.subcommand("demo")],
    Annotated[Data, tyro.conf.subcommand("data")],
    Annotated[Synth, tyro.conf.subcommand("synth")],
    Annotated[SynthReport, tyro.conf.subcommand("synth-report")],
    Annotated[Recon, tyro.conf.subcommand("recon")],
]


def entrypoint() -> None:
    tyro.cli(Command).main()


if __name__ == "__main__":
    entrypoint()
