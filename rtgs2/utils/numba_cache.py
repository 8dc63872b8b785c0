"""numba's on-disk cache, keyed by everything a kernel file compiles in.

numba stamps a cached kernel with the content of the kernel's own source file only. A kernel
that inlines constants or helpers from other files (the renderer's constants, the SH factors,
the forward kernels the backward ones call, the ray caster's intersection routines) would be
served stale after those files change: it once gave wrong gradients. A kernel file declares
what it compiles in with :func:`compiled_with`, before its ``@njit(cache=True)`` decorators run;
its kernels' cache stamp is then the hash of its own source and of those files, computed at
import. Nothing is typed by hand.

The locators below extend numba's own (``numba.core.caching``, not public API: pyproject pins
numba's version).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from numba.core import caching

import rtgs2.utils.numba_target  # noqa: F401 (before any @njit: numba's vector width, see the module)

_DEPENDENCIES: dict[str, tuple[str, ...]] = {}  # kernel file -> the files it compiles in


def compiled_with(kernel_file: str | Path, *dependencies: str | Path) -> str:
    """Declare that the numba kernels of ``kernel_file`` compile in code or constants of
    ``dependencies`` (source files); returns the stamp their cache entries get (hex)."""
    _install()
    key = os.path.abspath(kernel_file)
    _DEPENDENCIES[key] = tuple(os.path.abspath(d) for d in dependencies)
    return source_stamp(key)


def source_stamp(kernel_file: str | Path) -> str:
    """SHA-256 of ``kernel_file``'s content and of the files it declared (hex)."""
    key = os.path.abspath(kernel_file)
    digest = hashlib.sha256()
    for path in (key, *_DEPENDENCIES.get(key, ())):
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


class _DependencyStamp:
    """Mixin: claims only declared kernel files; stamps with their dependencies' content too."""

    @classmethod
    def from_function(cls, py_func, py_file):  # noqa: ANN001 (numba's signature)
        if os.path.abspath(py_file) not in _DEPENDENCIES:
            return None
        return super().from_function(py_func, py_file)

    def get_source_stamp(self) -> str:
        return source_stamp(self._py_file)


class _UserProvided(_DependencyStamp, caching.UserProvidedCacheLocator):
    """In ``$NUMBA_CACHE_DIR`` when it is set, as numba's default."""


class _InTree(_DependencyStamp, caching.InTreeCacheLocator):
    """In the kernel file's ``__pycache__``, as numba's default."""


class _UserWide(_DependencyStamp, caching.UserWideCacheLocator):
    """In the user's cache folder, where ``__pycache__`` is not writable."""


def _install() -> None:
    locators = caching.CacheImpl._locator_classes
    if _InTree not in locators:
        locators[:0] = [_UserProvided, _InTree, _UserWide]
