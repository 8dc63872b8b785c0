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
import importlib.util
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor

from rtgs2.recon.backend import choose_backend
from rtgs2.recon.checkpoint import load_latest_checkpoint, save_checkpoint
from rtgs2.recon.checks import check_points, check_views
from rtgs2.recon.config import ReconConfig, Schedule
from rtgs2.recon.densify import DensifyStats, densify_and_prune, reset_opacity
from rtgs2.recon.init import initial_scene, scene_extent
from rtgs2.recon.losses import photometric_loss, psnr
from rtgs2.recon.params import GaussianParams
from rtgs2.recon.progress import FitProgress
from rtgs2.render import RasterSettings, render
from rtgs2.render.reference import project
from rtgs2.scene.camera import Camera
from rtgs2.scene.cameras_json import write_cameras_json
from rtgs2.scene.gaussians import GaussianScene, all_finite
from rtgs2.scene.ply import write_ply

# Config fields that may change between a checkpoint and its resumption without changing the result.
RESUMABLE_CHANGES = ("checkpoint_every",)

StepCallback = Callable[[int, float], None]


class NonFiniteError(FloatingPointError):
    """A NaN or Inf appeared during the fit; ``step`` and ``name`` say when and where."""

    def __init__(self, step: int, name: str, what: str):
        super().__init__(f"step {step}: non-finite {what} of {name!r}; the last checkpoint (if any) is intact")
        self.step, self.name = step, name


def fit_device(backend: str) -> torch.device:
    """CUDA when the backend may be gsplat and CUDA and gsplat are present, else the CPU."""
    if backend in ("auto", "gsplat") and torch.cuda.is_available() and importlib.util.find_spec("gsplat") is not None:
        return torch.device("cuda")
    return torch.device("cpu")


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
    init_points: Tensor,  # [M, 3] world metres (SfM points or back-projected depth)
    init_colors: Tensor,  # [M, 3] RGB in [0, 1]
    out_dir: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
    *,
    on_step: StepCallback | None = None,
) -> GaussianScene:
    """Fit Gaussians to posed images; returns the scene (CPU, SH degree ``config.sh_degree``).

    Runs on CUDA with gsplat when both are present and the backend allows it, else on the CPU.

    With ``out_dir``: checkpoints go to ``out_dir/checkpoints`` every ``config.checkpoint_every``
    steps (atomically), a run resumes from the newest one when ``resume`` is true, and the
    result is written as ``out_dir/point_cloud/iteration_<N>/point_cloud.ply`` plus
    ``out_dir/cameras.json`` (INRIA layout). ``on_step(step, loss)`` is called after each step.

    Raises:
        ValueError / TypeError: bad inputs, before any optimisation (zero views, images of
            mismatched sizes or with non-finite pixels, an empty or non-finite initial cloud).
        NonFiniteError: a NaN/Inf in the loss, a gradient or a parameter (names step and parameter).
    """
    imgs = check_views(cameras, images)
    points, colors = check_points(init_points, init_colors)
    extent = scene_extent(cameras, points)
    schedule = Schedule.of(config)
    device = fit_device(config.backend)
    backend = choose_backend(config.backend, device)
    out = Path(out_dir) if out_dir is not None else None

    with _torch_threads(config.num_threads):
        init = initial_scene(points, colors, config.sh_degree, config.init_opacity).to(device)
        params = GaussianParams(init, config, extent)
        stats = DensifyStats.zeros(params.num_gaussians, device)
        imgs = [img.to(device) for img in imgs]
        gen = torch.Generator().manual_seed(config.seed)
        queue: list[int] = []
        start = 0
        state = load_latest_checkpoint(out) if (out is not None and resume) else None
        if state is not None:
            _check_resumable(state["config"], config, out)
            params.load_state_dict(state["params"])
            stats = DensifyStats.from_state_dict(state["stats"], device)
            gen.set_state(state["generator"])
            queue, start = list(state["queue"]), int(state["step"])

        bg = torch.tensor(config.background, dtype=torch.float32, device=device)
        with FitProgress(config.iterations, start, enabled=progress) as bar:
            for step in range(start + 1, config.iterations + 1):
                if not queue:
                    queue = torch.randperm(len(cameras), generator=gen).tolist()
                v = queue.pop()
                loss, view_psnr = _train_step(params, stats, cameras[v], imgs[v], config, schedule, extent, bg, backend, step)
                _densify_step(params, stats, config, schedule, extent, gen, step)
                bar.update(step, loss, view_psnr, params.num_gaussians)
                if on_step is not None:
                    on_step(step, loss)
                if out is not None and (step % config.checkpoint_every == 0 or step == config.iterations):
                    save_checkpoint(out, step, _state(params, stats, gen, queue, step, config))
        scene = params.scene().detach().to("cpu")
    if out is not None:
        _write_outputs(scene, cameras, out, config.iterations)
    return scene


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


def _state(
    params: GaussianParams, stats: DensifyStats, gen: torch.Generator, queue: list[int], step: int, config: ReconConfig
) -> dict:
    """Everything a resumed run needs to retrace the uninterrupted one."""
    return {
        "step": step,
        "params": params.state_dict(),
        "stats": stats.state_dict(),
        "generator": gen.get_state(),
        "queue": list(queue),
        "config": asdict(config),
    }


def _check_resumable(saved: dict, config: ReconConfig, out: Path) -> None:
    now = asdict(config)
    diff = {k: (saved.get(k), v) for k, v in now.items() if k not in RESUMABLE_CHANGES and saved.get(k) != v}
    if diff:
        raise ValueError(
            f"{out}: the checkpoint was made with different settings {diff} (saved, now); "
            "resume with the same config, or pass resume=False / another output folder"
        )


def _write_outputs(scene: GaussianScene, cameras: Sequence[Camera], out: Path, iterations: int) -> None:
    """INRIA layout: point_cloud/iteration_N/point_cloud.ply and cameras.json."""
    ply = out / "point_cloud" / f"iteration_{iterations}" / "point_cloud.ply"
    ply.parent.mkdir(parents=True, exist_ok=True)
    tmp = ply.with_name(ply.name + ".tmp.ply")
    write_ply(scene, tmp)
    tmp.replace(ply)
    try:
        write_cameras_json(list(cameras), out / "cameras.json")
    except ValueError as e:  # off-centre principal points: the INRIA file has no field for them
        warnings.warn(f"cameras.json not written: {e}", stacklevel=3)
