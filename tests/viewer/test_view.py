"""``rtgs2 view`` in a real browser: the viewer serves a small labelled scene on localhost,
headless Chromium opens it, and the screenshot must show the server's label overlay (the
browser sent its camera, the server rendered and sent frames, the page drew them)."""

from __future__ import annotations

import base64
import io
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rtgs2.fusion.io import save_fusion
from rtgs2.fusion.vdvi import build_fusion
from rtgs2.pipeline.cameras import orbit_cameras
from rtgs2.scene import read_ply, write_ply
from rtgs2.viewer.modes import LABELS, RGB
from rtgs2.viewer.server import Viewer, build_renderer, check_port_free
from tests.conftest import DONUT

CLASSES = ["floor", "wall", "table", "chair"]
WINDOW = (640, 480)  # px, the browser's window
MAX_HEIGHT = 96  # px: full-size frames stay tiny (a CPU is busy elsewhere)
WAIT_S = 120  # a first page load starts WebGL in software and compiles the renderer's kernels


def chromium() -> str | None:
    """Path of a Chromium binary (`make test` installs the Debian package)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def free_port() -> int:
    """A port nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def labelled_scene(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """Every 8th Gaussian of the donut with random 32-channel f_vi_* (no extraction needed), and a
    random small fusion model of 4 classes reading image and features."""
    monkeypatch.setenv("RTGS2_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    scene = read_ply(DONUT)
    scene = scene.subset(torch.arange(0, scene.num_gaussians, 8))
    ply, weights = tmp_path / "donut.ply", tmp_path / "fusion.pt"
    write_ply(scene.with_features(torch.randn(scene.num_gaussians, 32)), ply)
    save_fusion(build_fusion("small", "both", num_classes=len(CLASSES), class_names=CLASSES), weights)
    return ply, weights


class DevTools:
    """The smallest DevTools-protocol client: one page of a headless Chromium."""

    def __init__(self, ws_url: str):
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=None, open_timeout=30)
        self.next_id = 0

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:  # events arrive between replies: skip them
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]


def open_browser(binary: str, profile: Path) -> tuple[subprocess.Popen, DevTools]:
    """Headless Chromium with a fresh profile, and a DevTools connection to its blank page."""
    proc = subprocess.Popen(
        [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--enable-unsafe-swiftshader",  # WebGL (viser draws with three.js) in software, without a GPU
            f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}", "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    port_file = profile / "DevToolsActivePort"  # Chromium writes the port it picked here
    deadline = time.monotonic() + 30
    while not (port_file.is_file() and port_file.read_text().count("\n") >= 1):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("headless Chromium did not start")
        time.sleep(0.1)
    port = int(port_file.read_text().split()[0])
    pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
    page = next(p for p in pages if p["type"] == "page")
    return proc, DevTools(page["webSocketDebuggerUrl"])


def _band(h: int, w: int) -> tuple[slice, slice]:
    """The part of the page that shows only the frame: the GUI panel and viser's notice float over
    its top, the axes gizmo over its bottom-left corner."""
    return slice(int(0.55 * h), int(0.85 * h)), slice(int(0.1 * w), w)


def _band_error(shot: str, frame: np.ndarray) -> float:
    """Mean |screenshot - frame| (grey levels) over :func:`_band`, the frame resized to the page."""
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(shot))).convert("RGB")).astype(np.float32)
    h, w = image.shape[:2]
    resized = np.asarray(Image.fromarray(frame).resize((w, h), Image.Resampling.BILINEAR)).astype(np.float32)
    band = _band(h, w)
    return float(np.abs(image[band] - resized[band]).mean())


def test_browser_shows_the_label_overlay(tmp_path, labelled_scene):
    binary = chromium()
    if binary is None:
        pytest.skip("chromium not found (make test installs it with apt-get)")
    ply, weights = labelled_scene
    renderer, scene = build_renderer(ply, weights)
    assert renderer.modes[0] == LABELS  # the default mode when a model is given
    orbit = orbit_cameras(scene, 1, *WINDOW)
    port = free_port()
    viewer = Viewer(
        renderer, host="127.0.0.1", port=port, max_height=MAX_HEIGHT, initial=orbit.cameras[0], target=np.array(orbit.centre)
    )
    viewer.start()
    proc = None
    try:
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            check_port_free("127.0.0.1", port)  # the viewer holds it now
        proc, page = open_browser(binary, tmp_path / "profile")
        page.call("Page.navigate", url=viewer.url)
        deadline = time.monotonic() + WAIT_S
        while not (viewer.stats.last_frame is not None and viewer.stats.last_frame.shape[0] == MAX_HEIGHT):
            assert time.monotonic() < deadline, f"no full-size frame after {WAIT_S} s: {viewer.stats}"
            time.sleep(0.2)
        # the browser decodes and draws the last frame when it gets to it: take screenshots until
        # one shows it (the band check below), instead of sleeping a guessed time
        while True:
            shot = page.call("Page.captureScreenshot", format="png")["data"]
            if _band_error(shot, viewer.stats.last_frame) < 10 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        viewer.stop()
    png = tmp_path / "viewer.png"
    png.write_bytes(base64.b64decode(shot))
    print(f"screenshot: {png}")
    stats = viewer.stats
    assert stats.cameras >= 1 and stats.frames >= 1 and stats.last_mode == LABELS

    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(shot))).convert("RGB")).astype(np.float32)
    assert image.std() > 10  # not blank
    # The frame fills the canvas (the whole page); the GUI panel and viser's "software WebGL" notice
    # float over its top, the axes gizmo over its bottom-left corner: compare the band between them.
    h, w = image.shape[:2]
    band = _band(h, w)
    err = np.array(_band_error(shot, stats.last_frame))
    print(f"mean |screenshot - frame| over the band: {err.mean():.1f} grey levels")
    assert err.mean() < 10, f"the screenshot differs from the last frame sent by {err.mean():.1f} grey levels on average"
    # and it is the label overlay, not the plain render: the same view in RGB is much farther from it
    rgb = np.asarray(Image.fromarray(renderer.render(RGB, stats.last_camera)).resize((w, h), Image.Resampling.BILINEAR))
    err_rgb = np.abs(image[band] - rgb[band].astype(np.float32)).mean()
    assert err_rgb > 2 * err.mean(), f"the screenshot is as close to the plain RGB ({err_rgb:.1f}) as to the labels"


@pytest.mark.parametrize("host, flag", [("999.1.1.1", "--host"), ("203.0.113.7", "--host")])
def test_a_bad_host_names_the_host_not_the_port(host, flag):
    """An address that does not parse, or is not this machine's (TEST-NET-3), is a --host problem."""
    with pytest.raises(ValueError, match=flag) as err:
        check_port_free(host, 8080)
    assert "--port" not in str(err.value)
