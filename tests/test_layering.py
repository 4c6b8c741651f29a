"""Imports flow m2t_cli -> models -> converters, never back; the converters path never loads torch."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {"converters": {"models", "m2t_cli"}, "models": {"m2t_cli"}}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_upward_imports(package):
    bad = [f"{p.relative_to(REPO)} imports {sorted(_imports(p) & FORBIDDEN[package])}"
           for p in sorted((REPO / package).rglob("*.py")) if _imports(p) & FORBIDDEN[package]]
    assert not bad, bad


def test_convert_and_info_do_not_load_torch():
    code = ("import sys, m2t_cli.app, converters, converters.bvh, converters.retarget, converters.canonical;"
            "print(sorted(m for m in ('torch', 'smplx', 'ezc3d', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
