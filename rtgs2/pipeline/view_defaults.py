"""Default view sizes and counts of ``rtgs2 segment`` and ``rtgs2 lift``, and the size the
network reads a view at (plain constants and functions: no torch, the CLI's ``--help`` and the
configs use them)."""

VIEW_WIDTH = 320  # pixels, of the automatic views
VIEW_HEIGHT = 240
ORBIT_VIEWS = 36  # views of segment's automatic orbit when neither cameras nor a count are given
LIFT_VIEWS = 60  # views of lift's automatic coverage when neither cameras nor a count are given
TRAINING_VIEW = (240, 320)
"""H, W (pixels) of the views the fusion models are trained on (SynthRooms' cameras)."""


def auto_network_scale(height: int, width: int) -> int:
    """The scale s of ``network_scale="auto"`` for a view of ``height`` x ``width`` pixels: the
    largest power of two that keeps the network's view (1/s of it) at least :data:`TRAINING_VIEW`
    in both axes; 1 for views of that size or smaller (640x480: 2, 1280x720: 2, 1296x968: 4).
    Powers of two: Z at stride 4 s then divides the renderer's 16-pixel tiles, which its
    per-frame kernel needs (stride 12 would fall back to the slower exact kernel)."""
    fits = max(1, min(height // TRAINING_VIEW[0], width // TRAINING_VIEW[1]))
    return 1 << (fits.bit_length() - 1)


def is_network_scale(value: object) -> bool:
    """Whether ``value`` is a network scale: "auto" or a positive integer."""
    return value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)
