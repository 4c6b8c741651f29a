"""Docs stay true: docs/cli.md is regenerated from --help, every command has examples and docs."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from m2t.cli.app import app

REPO = Path(__file__).resolve().parents[1]


def _generated() -> str:
    out = subprocess.run([sys.executable, "-m", "typer", "m2t.cli.app", "utils", "docs", "--name", "m2t"],
                         cwd=REPO, capture_output=True, text=True, check=True)
    return out.stdout


def test_cli_reference_is_current():
    assert (REPO / "docs" / "cli.md").read_text().strip() == _generated().strip(), \
        "docs/cli.md is stale: run `python -m typer m2t.cli.app utils docs --name m2t --output docs/cli.md`"


def test_every_command_has_an_example_and_api_doc():
    api = (REPO / "docs" / "api.md").read_text()
    for cmd in typer.main.get_command(app).commands.values():
        assert "Example" in (cmd.help or ""), f"{cmd.name} --help has no example"
        assert f"m2t {cmd.name}" in api, f"docs/api.md does not mention `m2t {cmd.name}`"


def test_readme_commands():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    test_cmd = next(ln.strip() for ln in readme.splitlines() if "pytest" in ln and "pip install" in ln)
    assert test_cmd in ci, ".ci/run must run exactly the README's test command"
