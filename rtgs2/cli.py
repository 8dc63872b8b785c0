"""The ``rtgs2`` command: one subcommand per stage, each a dataclass whose ``main()`` imports
its stage lazily and calls one library function (no logic here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Union

import tyro


@dataclass
class Demo:
    """Build a built-in scene, render an orbit of views into OUT as PNGs and a GIF, print the FPS."""

    out: Path = Path("outputs/demo")
    """Output folder."""
    num_views: int = 24
    """Views on the orbit."""
    width: int = 320
    """Image width, pixels."""
    height: int = 240
    """Image height, pixels."""
    seed: int = 0
    """Seed of the built-in scene."""

    def main(self) -> None:
        from rtgs2.demo import run_demo

        run_demo(self.out, num_views=self.num_views, width=self.width, height=self.height, seed=self.seed)


Command = Union[Annotated[Demo, tyro.conf.subcommand("demo")],]


def entrypoint() -> None:
    tyro.cli(Command).main()


if __name__ == "__main__":
    entrypoint()
