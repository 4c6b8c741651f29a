"""C3D for real labs: marker-set presets matched from labels (prefixes stripped), partial bodies
with unobserved joints flagged, several subjects, and every vendor file in ../shared/data/c3d
either converted or refused with its own reason."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

ezc3d = pytest.importorskip("ezc3d")

from m2t.converters import ConfigError, M2TError, info, load_motion  # noqa: E402
from m2t.converters.body import canonical_rest_t2m  # noqa: E402
from m2t.converters.skeletons import T2M  # noqa: E402

from conftest import REPO, need  # noqa: E402
from test_conv_c3d import _to_lab, write_c3d  # noqa: E402

PRESETS = REPO / "converters" / "presets"


def _markers_for(preset: str, joints: np.ndarray) -> dict[str, np.ndarray]:
    """Marker positions whose preset weighted means give `joints` (least squares, kept near the
    body: markers start at the joints that use them)."""
    t2m = json.loads((PRESETS / f"{preset}.json").read_text())["t2m"]
    names = sorted({m for row in t2m.values() for m in ([row] if isinstance(row, str) else row)})
    rows = [j for j in T2M.joint_names if j in t2m]
    W = np.zeros((len(rows), len(names)))
    for r, j in enumerate(rows):
        row = {t2m[j]: 1.0} if isinstance(t2m[j], str) else t2m[j]
        for m, w in row.items():
            W[r, names.index(m)] = w / sum(row.values())
    target = joints[[T2M.index(j) for j in rows]]
    X0 = (W.T @ target) / np.maximum(W.sum(0), 1e-9)[:, None]
    lam = 1e-3
    X = np.linalg.solve(W.T @ W + lam * np.eye(len(names)), W.T @ target + lam * X0)
    return dict(zip(names, X)), rows


PARTIAL = {  # preset -> joints it observes (the rest is placed and flagged)
    "plugin_gait_lower": 9, "plugin_gait_lower_sacr": 9, "plugin_gait_upper": 12, "plugin_gait_upper_asi": 16,
    "helen_hayes": 17, "helen_hayes_heel": 17, "cast_ior": 9, "qualisys_sports": 22, "optitrack_conventional": 22,
}


@pytest.mark.parametrize("preset", sorted(PARTIAL))
def test_marker_set_presets(tmp_path, preset):
    joints = canonical_rest_t2m()
    mk, rows = _markers_for(preset, joints)
    if preset == "helen_hayes_heel":          # BTS writes the malleolus-free set with extra markers
        mk.update({"RATT": mk["r knee 1"] + [0, -0.05, 0.05], "LATT": mk["l knee 1"] + [0, -0.05, 0.05]})
    t = np.arange(120) / 100.0
    labels = [f"Lab Subject:{k}" for k in mk]                          # a prefix, as vendors write
    f = write_c3d(tmp_path / "s.c3d", labels, _to_lab(np.stack(list(mk.values())), t), rate=100.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = load_motion(f, keep_proportions=True)
    assert m.meta["rig"] == preset
    observed = np.ones(22, bool) if m.observed is None else m.observed
    assert int(observed.sum()) == PARTIAL[preset] == len(rows)
    assert sorted(m.meta.get("unobserved", [])) == sorted(set(T2M.joint_names) - set(rows))
    p = m.positions
    assert np.isfinite(p).all() and p[0, T2M.index("left_hip"), 0] > 0 and p[0, T2M.index("left_knee"), 0] > 0
    head = T2M.index("head")
    assert 1.3 < p[:, head, 1].mean() < 1.9                          # the placed body stands upright
    lw, le = T2M.index("left_wrist"), T2M.index("left_elbow")
    assert p[0, lw, 1] < p[0, le, 1] or observed[lw]                  # placed arms hang down


def test_several_subjects_need_a_choice(tmp_path):
    joints = canonical_rest_t2m()
    mk, _ = _markers_for("plugin_gait_lower", joints)
    t = np.arange(60) / 100.0
    xyz = _to_lab(np.stack(list(mk.values())), t)
    labels = [f"Anna:{k}" for k in mk] + [f"Ben:{k}" for k in mk]
    f = write_c3d(tmp_path / "two.c3d", labels, np.concatenate([xyz, xyz + [0, 2000, 0]], axis=1))
    with pytest.raises(ConfigError, match=r"2 subjects in the file: Anna \(\d+ markers\), Ben .*--subject"):
        load_motion(f)
    d = info(f)
    assert d["subjects"] == {"Anna": len(mk), "Ben": len(mk)} and "--subject" in d["ambiguous"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = load_motion(f, subject="Anna"), load_motion(f, subject="ben")
    assert a.meta["rig"] == b.meta["rig"] == "plugin_gait_lower"
    with pytest.raises(ConfigError, match="no subject 'Cleo'"):
        load_motion(f, subject="Cleo")


VENDOR = {  # file -> ("converts", preset, observed joints) or ("refused", reason)
    "Qualisys.c3d": ("converts", "qualisys_isb_full", 22),
    "FP_Type1.c3d": ("converts", "helen_hayes", 17),
    "BTS.c3d": ("converts", "helen_hayes_heel", 17),
    "FP_Type3.c3d": ("converts", "cast_ior", 9),
    "read_NOTworking2.c3d": ("converts", "plugin_gait_upper_asi", 16),
    "Vicon.c3d": ("refused", "2 subjects in the file: boite (8 markers), Daphnee (43 markers)"),
    "Optotrak.c3d": ("refused", "truncated"),
    "Kistler.c3d": ("refused", "no 3D marker points (analog/force-plate data only)"),
    "C3DRotationExample.c3d": ("refused", "no 3D marker points (rotation data only)"),
}


@pytest.mark.parametrize("name", sorted(VENDOR))
def test_every_vendor_file_converts_or_says_why(shared_data, name):
    f = need(shared_data / "c3d" / name)
    outcome = VENDOR[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if outcome[0] == "refused":
            with pytest.raises(M2TError) as e:
                load_motion(f)
            assert outcome[1] in str(e.value) and "\n" not in str(e.value)
            return
        m = load_motion(f)
    assert m.meta["rig"] == outcome[1]
    n_obs = 22 if m.observed is None else int(m.observed.sum())
    assert n_obs == outcome[2]
    assert 1.2 < m.meta["stature_m"] < 2.3


def test_vicon_subjects_each_refused_with_their_reason(shared_data):
    f = need(shared_data / "c3d" / "Vicon.c3d")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(M2TError, match=r"subject Daphnee: 43 markers .*cover arms .*nothing of legs, head"):
            load_motion(f, subject="Daphnee")
        with pytest.raises(M2TError, match="subject boite: 8 markers with no body landmark names"):
            load_motion(f, subject="boite")


def test_bts_times_count_its_leading_empty_frames(shared_data):
    f = need(shared_data / "c3d" / "BTS.c3d")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = load_motion(f)
    assert m.time_offset_s == pytest.approx(2.39)                      # 239 empty frames at 100 Hz
