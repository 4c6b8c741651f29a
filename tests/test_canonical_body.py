"""One canonical body: the same motion performed by a smaller or taller body gives the same model
input and the same caption; no zero-length bones; implausible statures are warned about."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from m2t.cli.app import app
from m2t.converters import bvh, load_motion
from m2t.converters.body import bone_lengths
from m2t.converters.skeletons import T2M

REPO = Path(__file__).resolve().parents[1]
WALK = REPO / "examples" / "walk.bvh"
SCALES = (0.8, 0.9, 1.1, 1.25)


def scaled_copy(src: Path, dest: Path, k: float) -> Path:
    """The same BVH with every length (offsets, position channels) multiplied by k."""
    header, frames, dt, block, line = bvh.split_file(src.read_bytes(), src)
    h = bvh.parse_hierarchy(header, src)
    values = bvh.parse_motion_block(block, frames, h.n_channels, src, line).copy()
    col = 0
    for j in h.joints:
        for c in j.channels:
            if c.lower().endswith("position"):
                values[:, col] *= k
            col += 1
    bvh.write(dest, h.names, h.parents, [j.offset * k for j in h.joints],
              [j.channels if not j.end_site else [] for j in h.joints], values, dt)
    return dest


@pytest.fixture(scope="module")
def scaled_walks(tmp_path_factory):
    d = tmp_path_factory.mktemp("scaled")
    return {k: scaled_copy(WALK, d / f"walk_x{k}.bvh", k) for k in SCALES}


def test_body_size_gives_identical_model_input(scaled_walks):
    ref = load_motion(WALK, units="cm").positions
    for k, f in scaled_walks.items():
        got = load_motion(f, units="cm")
        np.testing.assert_allclose(got.positions, ref, atol=1e-5, err_msg=f"x{k}")
    kept = load_motion(scaled_walks[1.25], units="cm", keep_proportions=True).positions
    assert np.abs(kept - ref).max() > 0.1          # the raw body really is bigger


def test_body_size_gives_the_same_caption(scaled_walks):
    from m2t.models.captioning import default_model_dir
    if not (default_model_dir() / "model.safetensors").exists():
        pytest.skip("no default model shipped")
    runner = CliRunner()
    texts = []
    for f in [WALK, *scaled_walks.values()]:
        r = runner.invoke(app, ["caption", str(f), "--units", "cm", "--format", "json"])
        assert r.exit_code == 0, r.output
        texts.append(json.loads(r.stdout)["text"])
    assert len(set(texts)) == 1, texts


def test_no_zero_length_bones_on_cmu_style_rigs(shared_data):
    from conftest import need
    f = need(shared_data / "cmu-131" / "131_01.bvh")
    for keep in (False, True):
        m = load_motion(f, keep_proportions=keep)
        lens = bone_lengths(m.positions, T2M.parents)[:, 1:]
        assert lens.min() > 0.03, dict(zip(T2M.joint_names[1:], lens.min(0).round(3)))
    assert set(m.meta["placed"]) == {"spine1", "neck", "left_collar", "right_collar"}


@pytest.mark.parametrize("k,cause", [(10.0, "pass --units mm"), (1.5, "export scale")])
def test_implausible_stature_is_warned(tmp_path, k, cause):
    f = scaled_copy(WALK, tmp_path / "big.bvh", k)
    with pytest.warns(UserWarning, match=cause):
        m = load_motion(f, units="cm")
    assert any("tall (outside 1-2.3 m)" in w for w in m.meta["warnings"])
