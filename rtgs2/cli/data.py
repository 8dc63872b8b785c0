"""``rtgs2 data check`` and ``rtgs2 data list``: data set tools (:mod:`rtgs2.data`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Optional

import tyro

from rtgs2.cli.common import subcommands
from rtgs2.data.check_config import DataCheckConfig  # a plain dataclass: no torch


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
    config: Annotated[DataCheckConfig, tyro.conf.arg(name="")] = DataCheckConfig()

    def main(self) -> None:
        from rtgs2.data.check import run_data_check

        run_data_check(self.path, self.out, self.label_set, self.split_scenes, self.config)


@dataclass
class DataList:
    """List the shipped label sets and scene splits, with where each was taken from."""

    def main(self) -> None:
        from rtgs2.data.open import print_catalog

        print_catalog()


DATA_COMMANDS: dict[str, type] = {"check": DataCheck, "list": DataList}
DataCommand = subcommands(DATA_COMMANDS)


@dataclass
class Data:
    """Data set tools: `check` a folder, `list` label sets and splits."""

    command: tyro.conf.OmitSubcommandPrefixes[DataCommand]  # type: ignore[valid-type]
    """What to do with the data set."""
    commands: ClassVar[dict[str, type]] = DATA_COMMANDS
    """Its subcommands by name (the error handler names the one that failed)."""

    def main(self) -> None:
        self.command.main()
