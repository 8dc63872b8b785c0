"""Helpers shared by the subcommand modules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional, Union

import tyro


def subcommands(commands: Mapping[str, type], defaults: Mapping[str, object] | None = None) -> Any:
    """The tyro ``Union`` of ``commands``, each class under its name; ``defaults[name]`` (an
    instance of that class), where given, supplies that subcommand's default values."""
    defaults = defaults or {}
    members = tuple(
        Annotated[cls, tyro.conf.subcommand(name, default=defaults.get(name, tyro.MISSING_NONPROP))]
        for name, cls in commands.items()
    )
    if len(members) == 1:  # a Union of one is that one type, and tyro offers no subcommand: pad it as
        members += (Annotated[None, tyro.conf.Suppress],)  # tyro.extras.subcommand_cli_from_dict does
    return Union[members]  # built at run time from the mapping, so typing.Union rather than X | Y


@dataclass(frozen=True)
class FrameOptions:
    """A scene file's units and up axis (the networks expect z up, metres); flattened
    into a subcommand's flags as ``--metres-per-unit`` and ``--up``."""

    metres_per_unit: Optional[float] = None
    """Scene units in metres (default: 1 for room-sized scenes, else chosen to make the scene room-sized; printed)."""
    up: Literal["+x", "-x", "+y", "-y", "+z", "-z"] = "+z"
    """The file's up axis (COLMAP frames are often -y)."""


FrameArg = Annotated[FrameOptions, tyro.conf.arg(name="")]  # a subcommand's field type: flags without a prefix
