"""``python -m rtgs2.cli``: the ``rtgs2`` command."""

from rtgs2.cli import entrypoint

entrypoint()
