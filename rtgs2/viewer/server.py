"""The viewer's web server (viser): each browser tab gets its own render loop that turns the tab's
camera into a picture in the chosen mode and shows it as the scene's background image.

Interactive on a CPU: while the camera moves, frames are rendered at MOVING_SCALE of the full
size; once it has been still for STILL_S, the view is rendered once more at full size (the
canvas size, capped at ``max_height`` rows) and then left alone until something changes.
"""

from __future__ import annotations

import errno
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rtgs2.scene import Camera, GaussianScene
from rtgs2.utils.errors import ConfigError, MissingFileError, UserError
from rtgs2.utils.io import refuse_folder
from rtgs2.viewer.camera import camera_from_viser
from rtgs2.viewer.modes import LABELS, PCA, ModeRenderer

MOVING_SCALE = 0.35  # frame side while moving, fraction of full: ~8x fewer pixels keeps a CPU near interactive rates
STILL_S = 0.25  # seconds without camera updates after which the camera counts as still
TICK_S = 0.02  # seconds between checks of a client's loop for work (bounds the added latency)
MIN_SIDE = 16  # px: smallest frame side rendered
JPEG_QUALITY = 85  # background images travel as JPEG: a tenth of PNG's bytes for renders


class PortInUseError(UserError, OSError):
    """The port the viewer was asked to listen on is taken (also an ``OSError``)."""


def frame_size(canvas_width: int, canvas_height: int, max_height: int, scale: float = 1.0) -> tuple[int, int]:
    """Pixels (width, height) to render for a canvas: its aspect, at most ``max_height`` rows
    (never more than the canvas), times ``scale``; each side at least MIN_SIDE."""
    if canvas_width <= 0 or canvas_height <= 0:
        raise ValueError(f"canvas size must be positive, got {canvas_width}x{canvas_height}")
    h = min(canvas_height, max_height) * scale
    w = h * canvas_width / canvas_height
    return max(MIN_SIDE, round(w)), max(MIN_SIDE, round(h))


class FrameScheduler:
    """When to render, and how big: reduced while the camera moves, full once it is still.

    ``moved`` and ``changed`` are called from viser's callbacks, ``next_scale`` from the render
    loop; ``now`` is ``time.monotonic()`` seconds (passed in so that tests control time)."""

    def __init__(self, still_s: float = STILL_S, moving_scale: float = MOVING_SCALE):
        self.still_s, self.moving_scale = still_s, moving_scale
        self._lock = threading.Lock()
        self._last_move = -float("inf")
        self._moving = False  # a move not yet rendered
        self._full_due = False  # the latest view has no full-size frame yet

    def moved(self, now: float) -> None:
        """The camera moved."""
        with self._lock:
            self._last_move, self._moving, self._full_due = now, True, True

    def changed(self) -> None:
        """Something other than the camera changed (the mode): redraw at full size at once."""
        with self._lock:
            self._moving, self._full_due, self._last_move = False, True, -float("inf")

    def next_scale(self, now: float) -> float | None:
        """The scale of the frame to render now (``moving_scale`` or 1), or None for no frame."""
        with self._lock:
            if self._moving:
                self._moving = False
                return self.moving_scale
            if self._full_due and now - self._last_move >= self.still_s:
                self._full_due = False
                return 1.0
            return None


@dataclass
class ViewerStats:
    """What the server has seen and done (read by tests and for the log)."""

    cameras: int = 0  # camera updates received from browsers
    frames: int = 0  # frames rendered and sent
    last_mode: str | None = None
    last_frame: np.ndarray | None = None  # [H, W, 3] uint8, the latest frame sent
    last_camera: Camera | None = None  # the camera it was rendered for
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Viewer:
    """A viser server showing ``renderer``'s pictures from each browser's camera.

    Args:
        renderer: the scene in its modes.
        host, port: where to listen; a port in use raises PortInUseError, an OSError (viser would quietly take the next).
        max_height: rows of a full-size frame at most (the canvas's own height if smaller).
        initial: the camera a new browser tab starts at (its pose and field of view).
        target: [3] world metres, the point that camera looks at (the pivot of orbiting).
    """

    def __init__(
        self, renderer: ModeRenderer, *, host: str, port: int, max_height: int, initial: Camera, target: np.ndarray
    ):
        if max_height < MIN_SIDE:
            raise ConfigError(None, "max_height", f"must be at least {MIN_SIDE} px, got {max_height}")
        self.renderer, self.host, self.port, self.max_height = renderer, host, port, max_height
        self.initial, self.target = initial, np.asarray(target, dtype=np.float64)
        self.stats = ViewerStats()
        self._stopped = threading.Event()
        self._render_lock = threading.Lock()  # one frame at a time: tabs share the CPU's cores
        self._server = None

    @property
    def url(self) -> str:
        return f"http://{'localhost' if self.host in ('0.0.0.0', '::') else self.host}:{self.port}"

    def start(self) -> None:
        """Listen (returns at once; the server and the render loops run in threads)."""
        import viser

        check_port_free(self.host, self.port)
        server = viser.ViserServer(host=self.host, port=self.port, label="rtgs2", verbose=False)
        if server.get_port() != self.port:  # taken between the check and the bind: viser moved on
            server.stop()
            raise PortInUseError(f"port {self.port} on {self.host} is in use: pick another with --port")
        self._server = server
        server.scene.set_up_direction(self.renderer.frame.up)  # orbiting keeps the scene's up axis up
        c2w = self.initial.cam_to_world.numpy()
        server.initial_camera.position = tuple(c2w[:3, 3])
        server.initial_camera.look_at = tuple(self.target)
        server.initial_camera.fov = float(np.radians(self.initial.fov_y_deg))
        server.on_client_connect(self._connect)

    def stop(self) -> None:
        """Close every tab's loop and the server."""
        if self._server is not None and not self._stopped.is_set():
            self._stopped.set()
            self._server.stop()

    def _connect(self, client) -> None:
        """A new browser tab: its GUI (mode, FPS, notes), camera callback and render loop."""
        scheduler = FrameScheduler()
        modes = self.renderer.modes
        mode = client.gui.add_dropdown("Mode", tuple(modes), initial_value=modes[0])
        fps = client.gui.add_text("FPS", initial_value="waiting for the camera", disabled=True)
        for note in self.renderer.notes.values():
            client.gui.add_markdown(note)
        seen = threading.Event()

        @client.camera.on_update
        def _(_camera) -> None:
            with self.stats.lock:
                self.stats.cameras += 1
            seen.set()
            scheduler.moved(time.monotonic())

        mode.on_update(lambda _: scheduler.changed())
        loop_args = (client, scheduler, mode, fps, seen)
        threading.Thread(target=self._loop, args=loop_args, name=f"rtgs2-view-{client.client_id}", daemon=True).start()

    def _loop(self, client, scheduler: FrameScheduler, mode, fps, seen: threading.Event) -> None:
        """Render ``client``'s frames while it is connected (viser's client id list says so)."""
        while not self._stopped.is_set() and client.client_id in self._server.get_clients():
            if not seen.is_set() or (scale := scheduler.next_scale(time.monotonic())) is None:
                time.sleep(TICK_S)
                continue
            cam = client.camera
            w, h = frame_size(cam.image_width, cam.image_height, self.max_height, scale)
            camera = camera_from_viser(cam.position, cam.wxyz, cam.fov, w, h)
            try:
                t0 = time.perf_counter()
                with self._render_lock:
                    image = self.renderer.render(mode.value, camera)
                client.scene.set_background_image(image, format="jpeg", jpeg_quality=JPEG_QUALITY)
                ms = (time.perf_counter() - t0) * 1e3
            except Exception as e:  # a bug: say so in the tab and the terminal, stop this tab's loop
                fps.value = f"error: {type(e).__name__}: {e}"
                traceback.print_exc(file=sys.stderr)
                return
            fps.value = f"{1e3 / ms:.1f} FPS ({ms:.0f} ms, {w}x{h}{'' if scale == 1 else ', moving'})"
            with self.stats.lock:
                self.stats.frames += 1
                self.stats.last_mode, self.stats.last_frame, self.stats.last_camera = mode.value, image, camera


def check_port_free(host: str, port: int) -> None:
    """A one-line error when ``port`` on ``host`` cannot be listened on: ``UserError`` naming
    --host for an address that is not this machine's, :class:`PortInUseError` (also an ``OSError``)
    naming --port for a port in use."""
    if not 0 < port < 65536:
        raise ConfigError(None, "port", f"must be in 1..65535, got {port}")
    try:
        socket.getaddrinfo(host, port)
    except socket.gaierror as e:
        raise UserError(f"--host {host} is not an address ({e.strerror}): give one of this machine's, e.g. 127.0.0.1 or 0.0.0.0") from None
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no obstacle
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise PortInUseError(f"cannot listen on {host}:{port} ({e.strerror}): pick another port with --port") from None
            raise UserError(f"cannot listen on {host}:{port} ({e.strerror}): give one of this machine's addresses with --host") from None


def build_renderer(
    scene: str | Path,
    weights: str | Path | None = None,
    feature_weights: str | Path | None = None,
    feature_cache: str | Path | None = None,
    metres_per_unit: float | None = None,
    up: str = "+z",
) -> tuple[ModeRenderer, GaussianScene]:
    """The scene at ``scene`` in its modes, and the scene. Labels need a fusion model: ``weights``,
    else the shipped one; without either the viewer still shows RGB, depth and feature PCA, and
    says in its panel why labels are off (more useful than refusing: the scene can be inspected).
    ``metres_per_unit`` and ``up`` give the file's frame (``choose_frame``; the renderer's ``frame``)."""
    from rtgs2.features.inputs import choose_frame
    from rtgs2.fusion.io import fusion_weights_path
    from rtgs2.pipeline.segmenter import Segmenter
    from rtgs2.scene import read_ply
    from rtgs2.viewer.modes import pca_features

    ply = Path(scene)
    refuse_folder(ply, "scene")
    if not ply.is_file():
        raise MissingFileError(f"scene {ply} not found")
    notes: dict[str, str] = {}
    try:
        weights_file = fusion_weights_path(weights)
    except FileNotFoundError:
        if weights is not None:
            raise
        weights_file = None
        notes[LABELS] = "**Labels off**: no shipped fusion model in this install; pass one with `--weights`."
    gaussians = read_ply(ply)
    frame = choose_frame(gaussians, metres_per_unit, up)
    segmenter = None
    if weights_file is not None:
        segmenter = Segmenter.from_files(
            ply, weights_file, feature_weights=feature_weights, feature_cache=feature_cache,
            metres_per_unit=metres_per_unit, up=up,
        )  # fmt: skip
        if segmenter.scene.features is not None:
            gaussians = gaussians.with_features(segmenter.scene.features)
    feature_file = None if feature_weights is None else Path(feature_weights)
    features = pca_features(gaussians, ply, feature_file, feature_cache, frame)
    if features is None:
        notes[PCA] = "**Feature PCA off**: the scene has no `f_vi_*` and no feature weights are installed."
    return ModeRenderer(gaussians, segmenter, features, notes, frame), gaussians


def view(
    scene: str | Path,
    weights: str | Path | None = None,
    *,
    feature_weights: str | Path | None = None,
    host: str = "0.0.0.0",
    port: int = 8080,
    max_height: int = 480,
    metres_per_unit: float | None = None,
    up: str = "+z",
) -> None:
    """Serve the viewer of the ``.ply`` at ``scene`` until Ctrl-C (module doc, :func:`build_renderer`;
    ``metres_per_unit``, ``up``: the file's frame, printed)."""
    from rtgs2.pipeline.cameras import orbit_cameras, orbit_frame

    check_port_free(host, port)  # before the slow part: reading the scene, extracting features
    renderer, gaussians = build_renderer(scene, weights, feature_weights, metres_per_unit=metres_per_unit, up=up)
    print(f"rtgs2 view: frame: {renderer.frame.note}")
    if renderer.segmenter is not None and renderer.segmenter.fallback:
        print(f"rtgs2 view: fallback: {renderer.segmenter.fallback}")
    frame = orbit_frame(metres_per_unit, up)
    orbit = orbit_cameras(gaussians, 1, 640, 480, frame)
    initial = orbit.cameras[0]
    eye = initial.center.numpy()
    centre = frame.rotation().numpy().T @ np.array(orbit.centre) / frame.metres_per_unit  # the orbit's is z-up metres
    # look at the orbit's centre when it is ahead (outside), else as far ahead as the ring's radius (inside)
    target = eye + initial.forward.numpy() * max(float(np.linalg.norm(centre - eye)), 1e-2)
    viewer = Viewer(renderer, host=host, port=port, max_height=max_height, initial=initial, target=target)
    viewer.start()
    print(f"rtgs2 view: {viewer.url} (modes: {', '.join(renderer.modes)}); Ctrl-C stops")
    for note in renderer.notes.values():
        print(f"rtgs2 view: {note.replace('**', '').replace('`', '')}")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:  # the usual way to end a viewer: not an error
        pass
    finally:
        viewer.stop()
