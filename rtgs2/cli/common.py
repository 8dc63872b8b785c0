"""Helpers shared by the subcommand modules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Union

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
