"""Errors a user can act on. The CLI prints any of them as one line (no traceback)."""

from __future__ import annotations


class Rtgs2Error(Exception):
    """Base of rtgs2's own user-facing errors: the message says what, where, and what to do."""


class LockHeldError(Rtgs2Error):
    """Another live process holds the output folder's lock."""


class CheckpointError(Rtgs2Error):
    """A checkpoint cannot be read (damaged or not a checkpoint)."""


class CheckpointMismatchError(Rtgs2Error):
    """A checkpoint belongs to another run (other data, scene or result-shaping config)."""
