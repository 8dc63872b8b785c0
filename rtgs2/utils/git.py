"""The code's version, recorded on weights cards and result files so that a number can be traced
back to the commit that made it."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path


@functools.cache
def git_commit() -> str:
    """The commit of the rtgs2 checkout that runs ("unknown" outside git), as of this process's
    first call: a long training calls it when it starts, so that a card written hours later names
    the code that ran, not a commit made in between."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, timeout=5
        ).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
