"""The stage order of DESIGN §3, checked on the source: inference (``rtgs2/pipeline``) runs
without the training or data-generation code, the two networks stand alone, and scoring
(``rtgs2 eval``) loads training code only for its fine-tuned row."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rtgs2"
# folder of rtgs2 -> rtgs2 packages none of its modules may import, even inside a function
FORBIDDEN = {
    "pipeline": ("rtgs2.train", "rtgs2.synth", "rtgs2.export"),
    "features": ("rtgs2.fusion", "rtgs2.data", "rtgs2.train", "rtgs2.pipeline", "rtgs2.eval", "rtgs2.export"),
    "fusion": ("rtgs2.features", "rtgs2.data", "rtgs2.train", "rtgs2.pipeline", "rtgs2.eval", "rtgs2.export"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def rtgs2_imports(path: Path, top_level_only: bool = False) -> dict[str, int]:
    """The rtgs2 modules (and, for ``from m import n``, ``m.n``) that the source file at
    ``path`` imports, each with the line of its first import; ``top_level_only``: only the
    imports run when the module loads, not those inside functions."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: dict[str, int] = {}
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the file's package, one level up per extra dot
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name == "rtgs2" or name.startswith("rtgs2."):
                found.setdefault(name, node.lineno)
    return found


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_stages_import_no_later_or_unrelated_stage(folder):
    bad = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for path in sorted((PACKAGE / folder).rglob("*.py"))
        for name, line in rtgs2_imports(path).items()
        if any(_under(name, p) for p in FORBIDDEN[folder])
    ]
    assert not bad, "\n".join(bad)


def test_eval_loads_no_training_code():
    """Only the fine-tuned row trains; it imports ``rtgs2.train`` when it runs."""
    bad = [
        f"{name} (line {line} of {file})"
        for file in ("run.py", "probe.py")
        for name, line in rtgs2_imports(PACKAGE / "eval" / file, top_level_only=True).items()
        if _under(name, "rtgs2.train")
    ]
    assert not bad, bad


def test_importing_the_pipeline_loads_no_training_or_synth_module():
    """What the files import in turn counts too (a data reader importing the generator, say)."""
    modules = sorted(_module_name(p) for p in (PACKAGE / "pipeline").glob("*.py"))
    check = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('rtgs2.train', 'rtgs2.synth'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
