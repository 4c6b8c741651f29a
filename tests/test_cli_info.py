"""`m2t info`: table and JSON."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from m2t.converters.synthetic import write_walk_bvh
from m2t.cli.app import app

runner = CliRunner()


def test_info_json_and_table(tmp_path):
    write_walk_bvh(tmp_path / "walk.bvh", seconds=2.0, fps=30)
    r = runner.invoke(app, ["info", str(tmp_path / "walk.bvh"), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["format"] == "BVH" and d["frames"] == 60 and abs(d["fps"] - 30) < 1e-3
    assert d["units"] == "cm" and d["rig"] == "auto (humanik names)" and d["unmapped"] == []
    assert d["mapping"]["left_knee"] == "LeftLeg"
    r = runner.invoke(app, ["info", str(tmp_path / "walk.bvh")])
    assert r.exit_code == 0 and any("left_knee" in ln and "LeftLeg" in ln for ln in r.stdout.splitlines()) and "unmapped" in r.stdout


def test_info_unmappable_file_reports_unmapped(tmp_path):
    from m2t.converters import bvh
    import numpy as np
    bvh.write(tmp_path / "arm.bvh", ["Shoulder", "Elbow"], [-1, 0], np.array([[0, 150, 0], [30, 0, 0]]),
              [["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"], ["Zrotation"]],
              np.zeros((3, 7)), 0.1)
    r = runner.invoke(app, ["info", str(tmp_path / "arm.bvh"), "--json"])
    assert r.exit_code == 0
    assert "left_knee" in json.loads(r.stdout)["unmapped"]
