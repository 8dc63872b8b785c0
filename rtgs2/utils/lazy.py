"""Lazy exports for a package's ``__init__``: each name is imported from its module on first
use, so importing the package loads nothing heavy (``rtgs2 --help`` reads configs without
loading torch).

Usage, in ``rtgs2/<package>/__init__.py``::

    __getattr__, __dir__, __all__ = lazy_exports(__name__, {"render": "rtgs2.render.api", ...})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """The module-level ``__getattr__``, ``__dir__`` and ``__all__`` of ``package``.

    Args:
        package: the package's ``__name__``.
        exports: each exported name -> the module that defines it (under that same name).

    Returns:
        ``__getattr__`` reads the name from its module (importing it on first use); an unknown
        name raises AttributeError as for any module. The value is not stored in the package:
        every look-up reads the module, so a test that patches the module's name patches the
        package's too. ``__dir__`` and ``__all__`` list the exported names.
    """
    names = sorted(exports)

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name]), name)

    def __dir__() -> list[str]:
        return list(names)

    return __getattr__, __dir__, names
