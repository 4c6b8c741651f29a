"""The wheel installs one import namespace, `m2t` (m2t.cli, m2t.models, m2t.converters), and nothing
else at the top level: generic names like `models` would shadow other projects' packages."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_wheel_exposes_only_m2t(tmp_path):
    pytest.importorskip("setuptools")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path), str(REPO)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = tmp_path.glob("m2t-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"m2t"}, sorted(top)
    assert len(dist_info) == 1
    for must in ("m2t/cli/app.py", "m2t/models/network.py", "m2t/converters/bvh.py",
                 "m2t/converters/presets/bandai.json", "m2t/models/weights/default/model.safetensors",
                 "m2t/models/wordlists/motion_verbs.txt", "m2t/models/web/viewer.html", "m2t/models/web/viewer.js",
                 "m2t/models/web/viewer.css", "m2t/models/web/index.html"):
        assert must in names, must
    assert not any(n.startswith("m2t/__init__") for n in names)      # implicit namespace package
