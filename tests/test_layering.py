"""Imports flow m2t.cli -> m2t.models -> m2t.converters, never back; the converters path never loads torch."""
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
            out |= {_layer(a.name) for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(_layer(node.module))
            if node.module == "m2t":
                out |= {_layer("m2t." + a.name) for a in node.names}
    return out


def _layer(module: str) -> str:
    """`m2t.models.x` -> "models" (the folder it lives in), `m2t.cli` -> "m2t_cli", `numpy` -> "numpy"."""
    parts = module.split(".")
    if parts[0] != "m2t" or len(parts) == 1:
        return parts[0]
    return {"cli": "m2t_cli"}.get(parts[1], parts[1])


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_upward_imports(package):
    bad = [f"{p.relative_to(REPO)} imports {sorted(_imports(p) & FORBIDDEN[package])}"
           for p in sorted((REPO / package).rglob("*.py")) if _imports(p) & FORBIDDEN[package]]
    assert not bad, bad


def test_generic_top_level_names_are_not_importable(tmp_path):
    """The install exposes only `m2t`: `models` / `converters` must not shadow other projects'."""
    for name in ("models", "converters", "m2t_cli"):
        r = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode != 0 and "No module named" in r.stderr, name


def test_convert_and_info_do_not_load_torch():
    code = ("import sys, m2t.cli.app, m2t.converters, m2t.converters.bvh, m2t.converters.retarget, "
            "m2t.converters.canonical;"
            "print(sorted(m for m in ('torch', 'smplx', 'ezc3d', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


TORCH_FREE = ("m2t.models.results", "m2t.models.schemas", "m2t.models.writers", "m2t.models.caption_batch",
              "m2t.models.errors", "m2t.models.data", "m2t.models.features", "m2t.models.dataset_build",
              "m2t.models.supervision", "m2t.models.vocab", "m2t.cli.caption_cmds", "m2t.cli.dataset_cmds")


@pytest.mark.parametrize("module", TORCH_FREE)
def test_result_objects_writers_and_data_path_do_not_load_torch(module):
    """Writers, the CLI and `dataset build` use these without paying torch's import (~1.5-4 s)."""
    code = f"import sys, {module}; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"], module
