"""Errors a user can act on. The CLI prints any of them as one line (no traceback).

:class:`UserError` is the one for input: a value a user can type, a file or folder a user can
give (or one that such a file or data set needs). Raise it where input is checked (configs, data
readers, weight loaders, output paths); a check that guards a programmer's call of an internal
function (a tensor's shape in a network) stays a plain ``ValueError``, which the CLI shows with
its traceback, as a bug."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields


class Rtgs2Error(Exception):
    """Base of rtgs2's own user-facing errors: the message says what, where, and what to do."""


class UserError(Rtgs2Error, ValueError):
    """A value, file or folder the user gave is wrong. Also a ``ValueError``, so callers that
    catch ``ValueError`` keep working."""


class ConfigError(UserError):
    """A config field's value is refused. ``owner`` (the config class's name) and ``field`` name
    it, ``detail`` says why ("must be positive, got -1"): ``str(e)`` reads ``Owner.field detail``
    and the CLI writes the field as its flag (:meth:`message`). Without an owner (``None``),
    ``field`` is an argument of a function that a flag of the same name sets, and reads alone.
    ``also`` lists other fields of ``owner`` that ``detail`` names (as their plain names); a
    ``detail`` that starts with ``[`` (an index into the field) follows the field without a space."""

    def __init__(self, owner: object, field: str, detail: str, *, also: tuple[str, ...] = ()) -> None:
        if owner is not None and not isinstance(owner, str):
            owner = (owner if isinstance(owner, type) else type(owner)).__name__
        self.owner: str | None = owner
        self.field = field
        self.detail = detail
        self.also = also
        super().__init__(self.message())

    def message(self, flags: Mapping[str, str] | None = None) -> str:
        """The message, each field that ``flags`` maps (``"Owner.field"``, or ``"field"`` without
        an owner, to ``"--flag"``) written as its flag; the others by their names."""
        flags = flags or {}
        prefix = f"{self.owner}." if self.owner else ""
        subject = flags.get(prefix + self.field, prefix + self.field)
        detail = self.detail
        for name in self.also:
            detail = detail.replace(name, flags.get(prefix + name, name))
        return f"{subject}{'' if detail.startswith('[') else ' '}{detail}"

    def __reduce__(self):  # pickles (to another process) with its fields, not only its message
        return type(self), (self.owner, self.field, self.detail), self.__dict__


def check(cfg: object, ok: bool, field: str, rule: str) -> None:
    """A :class:`ConfigError` "``Owner.field`` must be ``rule``, got ``value``" unless ``ok``."""
    if not ok:
        raise ConfigError(cfg, field, f"must be {rule}, got {getattr(cfg, field)!r}")


def check_positive(cfg: object, *names: str) -> None:
    """Each field ``names`` of ``cfg`` is > 0 (else "must be positive, got ...")."""
    for name in names:
        check(cfg, getattr(cfg, name) > 0, name, "positive")


def check_non_negative(cfg: object, *names: str) -> None:
    """Each field ``names`` of ``cfg`` is >= 0 (else "must be non-negative, got ...")."""
    for name in names:
        check(cfg, getattr(cfg, name) >= 0, name, "non-negative")


def check_numbers(cfg: object) -> None:
    """Each field of the dataclass ``cfg`` annotated ``int`` holds an integer (not a bool), each
    annotated ``float`` a finite number (annotations as strings: ``from __future__ import annotations``)."""
    for f in fields(cfg):  # type: ignore[arg-type]
        v = getattr(cfg, f.name)
        if f.type == "int":
            check(cfg, isinstance(v, int) and not isinstance(v, bool), f.name, "an integer")
        if f.type == "float":
            check(cfg, isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v), f.name, "a finite number")


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder the user named, or one that a data set or model needs, does not exist.
    Also a ``FileNotFoundError`` (with rtgs2's message; ``filename`` is not set)."""


class LockHeldError(Rtgs2Error):
    """Another live process holds the output folder's lock."""


class CheckpointError(Rtgs2Error):
    """A checkpoint cannot be read (damaged or not a checkpoint)."""


class CheckpointMismatchError(Rtgs2Error):
    """A checkpoint belongs to another run (other data, scene or result-shaping config)."""
