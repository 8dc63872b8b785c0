"""``fit_gaussians``: 3DGS optimisation of a GaussianScene to posed RGB images.

One training view per step, in a seeded random order (a fresh permutation of all views each
epoch); loss (1 - λ)·L1 + λ·D-SSIM against a fixed background; Adam with per-parameter
learning rates, the position lr decaying exponentially and scaled by the scene extent; SH
degree raised on schedule; clone / split / prune and opacity resets in the densification
window. Every random draw comes from one seeded ``torch.Generator`` whose state is
checkpointed, so a resumed run retraces the uninterrupted one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor

from rtgs2.recon.checks import check_points, check_views
from rtgs2.recon.config import ReconConfig, Schedule
from rtgs2.recon.densify import DensifyStats, densify_and_prune, reset_opacity
from rtgs2.recon.init import initial_scene, scene_extent
from rtgs2.recon.losses import photometric_loss, psnr
from rtgs2.recon.params import GaussianParams
from rtgs2.render import RasterSettings, default_device, render, resolve_backend
from rtgs2.render.projection import project
from rtgs2.scene.camera import Camera
from rtgs2.scene.cameras_json import write_cameras_json
from rtgs2.scene.gaussians import GaussianScene, all_finite
from rtgs2.scene.ply import read_ply, write_ply
from rtgs2.utils.checkpoint import CheckpointStore
from rtgs2.utils.io import atomic_write_text
from rtgs2.utils import lock
from rtgs2.utils.progress import ProgressReport

# Config fields that may change between a checkpoint and its resumption without changing the result.
RESUMABLE_CHANGES = ("checkpoint_every",)
CHECKPOINT_DIR = "checkpoints"  # under the output folder
MARKER = "recon.json"  # marks a folder as an rtgs2 recon output (never written into a foreign folder)
OUTPUT_ENTRIES = {CHECKPOINT_DIR, "point_cloud", "cameras.json", MARKER}
SMOOTHING = 0.4  # weight of the newest step in the shown running averages (3DGS trainer's EMA)

StepCallback = Callable[[int, float], None]


class NonFiniteError(FloatingPointError):
    """A NaN or Inf appeared during the fit; ``step`` and ``name`` say when and where."""

    def __init__(self, step: int, name: str, what: str):
        super().__init__(f"step {step}: non-finite {what} of {name!r}; the last checkpoint (if any) is intact")
        self.step, self.name = step, name


def position_lr(config: ReconConfig, extent: float, step: int) -> float:
    """Position lr at 1-based ``step``: log-linear from init to final over the run, x extent."""
    t = min(max((step - 1) / max(config.iterations - 1, 1), 0.0), 1.0)
    log_lr = (1 - t) * math.log(config.position_lr_init) + t * math.log(config.position_lr_final)
    return math.exp(log_lr) * extent


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch CPU threads (0: unchanged): float sums, hence results, depend on it."""
    before = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit_gaussians(
    cameras: Sequence[Camera],  # V training cameras (one image size)
    images: Sequence[Tensor],  # V x [H, W, 3] float RGB in [0, 1]
    config: ReconConfig,
    init_points: Tensor | None,  # [M, 3] world metres (SfM points or back-projected depth)
    init_colors: Tensor | None,  # [M, 3] RGB in [0, 1]
    out_dir: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
    *,
    on_step: StepCallback | None = None,
    identity: dict | None = None,
    init_scene: GaussianScene | None = None,
) -> GaussianScene:
    """Fit Gaussians to posed images; returns the scene (CPU, SH degree ``config.sh_degree``).

    Runs on CUDA with gsplat when both are present and the backend allows it, else on the CPU.

    The fit starts from isotropic Gaussians at ``init_points`` (3DGS), or from the Gaussians of
    ``init_scene`` as they are (e.g. flat discs on known surfaces; the points are then None).
    At most ``config.max_gaussians`` Gaussians (when set): a larger initial cloud is subsampled.

    With ``out_dir`` (empty, new, or an earlier output of ``fit_gaussians``; anything else is
    refused): checkpoints go to ``out_dir/checkpoints`` every ``config.checkpoint_every`` steps
    (atomically), a run resumes from the newest one when ``resume`` is true (``False`` deletes
    them and starts afresh), and the result is written as
    ``out_dir/point_cloud/iteration_<N>/point_cloud.ply`` plus ``out_dir/cameras.json`` (INRIA
    layout). A checkpoint records what it belongs to: the result-shaping config, the backend, a
    hash of the cameras, images and initial points, and the caller's ``identity`` (e.g. data
    path and scene); resuming another run's checkpoint is refused. A rerun of a finished fit
    returns its scene. ``on_step(step, loss)`` is called after each step.

    Raises:
        ValueError / TypeError: bad inputs, before any optimisation (zero views, images of
            mismatched sizes or with non-finite pixels, an empty or non-finite initial cloud).
        NonFiniteError: a NaN/Inf in the loss, a gradient or a parameter (names step and parameter).
        CheckpointMismatchError / CheckpointError: a checkpoint of another run, or a damaged one.
    """
    imgs = check_views(cameras, images)
    given = (init_points is not None) + (init_colors is not None)
    if (init_scene is None and given != 2) or (init_scene is not None and given):
        raise ValueError("fit_gaussians starts from init_points and init_colors or from an init_scene: give one of them")
    if init_scene is None:
        points, colors = cap_points(*check_points(init_points, init_colors), config.max_gaussians, config.seed)
        start_scene = None
    else:
        start_scene = cap_scene(init_scene, config.max_gaussians, config.seed)
        points, colors = check_points(start_scene.means.detach(), start_scene.base_colors.detach().clamp(0, 1))
    extent = scene_extent(cameras, points)
    schedule = Schedule.of(config)
    device = default_device(config.backend)
    backend = resolve_backend(config.backend, device)
    out = Path(out_dir) if out_dir is not None else None
    store = None
    if out is not None:
        check_output_folder(out)
        ident = {
            "kind": "rtgs2.recon",
            "config": {k: v for k, v in asdict(config).items() if k not in RESUMABLE_CHANGES},
            "backend": backend,
            "inputs": inputs_fingerprint(cameras, imgs, points, colors, start_scene),
            **(identity or {}),
        }
        hint = f"delete {out / CHECKPOINT_DIR} (or choose another output folder) to start afresh"
        store = CheckpointStore(out / CHECKPOINT_DIR, ident, fresh_hint=hint)
        if not resume:
            store.clear()
        atomic_write_text(out / MARKER, json.dumps({"format": "rtgs2-recon-1", "identity": store.identity}, indent=1))

    with _torch_threads(config.num_threads):
        if start_scene is None:
            init = initial_scene(points, colors, config.sh_degree, config.init_opacity).to(device)
        else:
            init = start_scene.detach().with_features(None).with_sh_degree(config.sh_degree).to(device)
        params = GaussianParams(init, config, extent)
        stats = DensifyStats.zeros(params.num_gaussians, device)
        imgs = [img.to(device) for img in imgs]
        gen = torch.Generator().manual_seed(config.seed)
        queue: list[int] = []
        start = 0
        saved = store.load_latest() if store is not None else None
        if saved is not None:
            start, state = saved
            ply = result_path(out, config.iterations)
            if start >= config.iterations and ply.is_file():
                if progress:
                    print(f"recon: already finished ({config.iterations} steps); result: {ply}", file=sys.stderr)
                return read_ply(ply)
            params.load_state_dict(state["params"])
            stats = DensifyStats.from_state_dict(state["stats"], device)
            gen.set_state(state["generator"])
            queue = list(state["queue"])

        bg = torch.tensor(config.background, dtype=torch.float32, device=device)
        shown = _RunningMeans()
        fields = "loss {loss:.4f}  PSNR {psnr:.2f} dB  {n} Gaussians"
        with ProgressReport("recon", config.iterations, start=start, fields=fields, enabled=progress) as bar:
            for step in range(start + 1, config.iterations + 1):
                if not queue:
                    queue = torch.randperm(len(cameras), generator=gen).tolist()
                v = queue.pop()
                loss, view_psnr = _train_step(params, stats, cameras[v], imgs[v], config, schedule, extent, bg, backend, step)
                _densify_step(params, stats, config, schedule, extent, gen, step)
                bar.update(step, n=params.num_gaussians, **shown.update(loss, view_psnr))
                if on_step is not None:
                    on_step(step, loss)
                if store is not None and (step % config.checkpoint_every == 0 or step == config.iterations):
                    store.save(step, _state(params, stats, gen, queue))
        scene = params.scene().detach().to("cpu")
    if out is not None:
        _write_outputs(scene, cameras, out, config.iterations)
    return scene


class _RunningMeans:
    """Exponential running means of the loss and the view PSNR, for display."""

    def __init__(self) -> None:
        self.loss: float | None = None
        self.psnr: float | None = None

    def update(self, loss: float, psnr_db: float) -> dict:
        def ema(old: float | None, new: float) -> float:
            return new if old is None else SMOOTHING * new + (1 - SMOOTHING) * old

        self.loss = ema(self.loss, loss)
        if math.isfinite(psnr_db):
            self.psnr = ema(self.psnr, psnr_db)
        return {"loss": self.loss, "psnr": self.psnr if self.psnr is not None else float("inf")}


def cap_points(
    points: Tensor,  # [M, 3] world metres
    colors: Tensor,  # [M, 3] RGB in [0, 1]
    max_gaussians: int,  # 0 = no cap
    seed: int,
) -> tuple[Tensor, Tensor]:  # [min(M, cap), 3] twice
    """A seeded uniform subset of at most ``max_gaussians`` initial points (the cap bounds the
    fit from its first step, not only its densification)."""
    keep = _capped_rows(len(points), max_gaussians, seed)
    return (points, colors) if keep is None else (points[keep], colors[keep])


def cap_scene(scene: GaussianScene, max_gaussians: int, seed: int) -> GaussianScene:
    """:func:`cap_points` for initial Gaussians: the same seeded subset of rows."""
    keep = _capped_rows(scene.num_gaussians, max_gaussians, seed)
    return scene if keep is None else scene.subset(keep)


def _capped_rows(n: int, max_gaussians: int, seed: int) -> Tensor | None:
    """Sorted rows of a seeded uniform subset of ``max_gaussians`` of ``n``; None when all are kept."""
    if max_gaussians <= 0 or n <= max_gaussians:
        return None
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=gen)[:max_gaussians].sort().values


def inputs_fingerprint(
    cameras: Sequence[Camera],
    images: Sequence[Tensor],
    points: Tensor,
    colors: Tensor,
    init_scene: GaussianScene | None = None,
) -> str:
    """A short hash of everything a fit is fitted to: cameras, images and initial points (and
    the initial Gaussians' shapes and opacities, when it starts from a scene)."""
    h = hashlib.sha256()
    for cam, img in zip(cameras, images):
        h.update(cam.K.detach().cpu().double().numpy().tobytes())
        h.update(cam.world_to_cam.detach().cpu().double().numpy().tobytes())
        h.update(img.detach().cpu().float().contiguous().numpy().tobytes())
    shapes = () if init_scene is None else (init_scene.log_scales, init_scene.quats, init_scene.opacity_logits, init_scene.sh)
    for t in (points, colors, *shapes):
        h.update(t.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def check_output_folder(out: Path) -> None:
    """Refuse an output path that is a file, or a non-empty folder that is not an rtgs2 recon
    output (no ``recon.json``): nothing of a user's is ever overwritten."""
    lock.check_output_folder(out, MARKER, "an rtgs2 recon output", "; give a folder for the reconstruction")


def result_path(out: Path, iterations: int) -> Path:
    """Where a finished fit's scene is (INRIA layout)."""
    return out / "point_cloud" / f"iteration_{iterations}" / "point_cloud.ply"


def _train_step(
    params: GaussianParams,
    stats: DensifyStats,
    camera: Camera,
    image: Tensor,  # [H, W, 3]
    config: ReconConfig,
    schedule: Schedule,
    extent: float,
    bg: Tensor,  # [3]
    backend: str,
    step: int,
) -> tuple[float, float]:
    """One Adam step on one view; returns (loss, PSNR of the render before the step, dB)."""
    params.set_lr("means", position_lr(config, extent, step))
    track = step < schedule.densify_until
    scene = params.scene()
    out = render(
        scene,
        camera,
        sh_degree=schedule.sh_degree_at(step, config.sh_degree),
        background=bg,
        backend=backend,  # type: ignore[arg-type]
        settings=RasterSettings(track_means2d_grad=track),
    )
    loss = photometric_loss(out.rgb, image, config.dssim_weight)
    if not bool(torch.isfinite(loss)):
        raise NonFiniteError(step, "loss", "value")
    loss.backward()
    for name, p in params.params.items():
        if p.grad is not None and not all_finite(p.grad):
            raise NonFiniteError(step, name, "gradient")
    if track:
        if out.means2d_probe is None or out.means2d_probe.grad is None or out.visible is None:
            raise RuntimeError(f"backend {backend!r} gave no screen-space gradient; densification needs it")
        vis = out.visible
        with torch.no_grad():  # screen radii of the drawn Gaussians only (a fraction of N per view)
            proj = project(
                scene.means[vis], scene.quats[vis], scene.log_scales[vis],
                camera.world_to_cam.to(scene.means), camera.K.to(scene.means), camera.width, camera.height,
            )  # fmt: skip
        stats.add_view(vis, out.means2d_probe.grad, proj, camera.width, camera.height)
    params.optimizer.step()
    params.optimizer.zero_grad(set_to_none=True)
    for name, p in params.params.items():
        if not all_finite(p):
            raise NonFiniteError(step, name, "value after the optimizer step")
    return float(loss.detach()), float(psnr(out.rgb.detach().clamp(0, 1), image))


def _densify_step(
    params: GaussianParams,
    stats: DensifyStats,
    config: ReconConfig,
    schedule: Schedule,
    extent: float,
    gen: torch.Generator,
    step: int,
) -> None:
    """Densify / prune and reset opacities when the schedule says so (stats reset after densifying)."""
    if schedule.densify_now(step):
        densify_and_prune(params, stats, config, extent, schedule.prune_large_now(step), gen)
        fresh = DensifyStats.zeros(params.num_gaussians, params["means"].device)
        stats.grad_sum, stats.count, stats.max_radius = fresh.grad_sum, fresh.count, fresh.max_radius
    if schedule.reset_opacity_now(step):
        reset_opacity(params, config.reset_opacity)


def _state(params: GaussianParams, stats: DensifyStats, gen: torch.Generator, queue: list[int]) -> dict:
    """Everything a resumed run needs to retrace the uninterrupted one."""
    return {"params": params.state_dict(), "stats": stats.state_dict(), "generator": gen.get_state(), "queue": list(queue)}


def _write_outputs(scene: GaussianScene, cameras: Sequence[Camera], out: Path, iterations: int) -> None:
    """INRIA layout: point_cloud/iteration_N/point_cloud.ply and cameras.json."""
    write_ply(scene, result_path(out, iterations))  # atomic
    try:
        write_cameras_json(list(cameras), out / "cameras.json")
    except ValueError as e:  # off-centre principal points: the INRIA file has no field for them
        warnings.warn(f"cameras.json not written: {e}", stacklevel=3)
