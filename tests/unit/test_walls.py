"""The walls between the top-level packages (docs: README "How it fits together"), read off the
source: every import statement in a package, at module level or inside a function (the lazy
imports a subprocess check cannot see), must stay on its side of the wall."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIME = {"torch", "transformers", "optimum", "onnx"}
# package -> top-level modules it must never import
WALLS = {
    "runtime": BUILD_TIME | {"export", "worker", "boto3", "botocore", "pydantic", "ticket_schema", "ticket_enrich"},
    "worker": BUILD_TIME | {"export", "ticket_enrich"},
    "ticket_schema": BUILD_TIME | {"export", "worker", "ticket_enrich", "boto3", "botocore"},
    "export": {"worker"},
}


def imported(path: Path) -> set[str]:
    """Top-level names of every module `path` imports (relative imports stay in the package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(WALLS))
def test_no_package_imports_across_its_wall(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, package
    crossings = {f"{path.relative_to(ROOT)}: {name}" for path in files for name in imported(path) & WALLS[package]}
    assert not crossings, sorted(crossings)


def test_the_wall_check_sees_lazy_imports(tmp_path):
    module = tmp_path / "lazy.py"
    module.write_text("def run():\n    from ticket_enrich.cli import main\n    import torch.nn as nn\n")
    assert imported(module) == {"ticket_enrich", "torch"}
