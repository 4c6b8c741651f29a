"""Joint matching: presets, automatic name matching, --joint-map files, clear errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from m2t.converters import ConfigError, Motion, SkeletonMatchError
from m2t.converters.retarget import build_mapping, parse_name, retarget
from m2t.converters.skeletons import KIT, T2M


@pytest.mark.parametrize("name, expected", [
    ("mixamorig:LeftUpLeg", ("left", "upleg")), ("UpperArm_L", ("left", "upperarm")),
    ("lhumerus", ("left", "humerus")), ("RightForeArm", ("right", "forearm")), ("Hips", (None, "hips")),
    ("Bip01 R Thigh", ("right", "thigh")), ("l_knee", ("left", "knee")), ("LHipJoint", ("left", "hipjoint")),
    ("Subject01:RightToeBase", ("right", "toebase")), ("spine.L", ("left", "spine")),
])
def test_parse_name_sides_and_prefixes(name, expected):
    assert parse_name(name) == expected


def _motion(names, parents=None, T=3):
    rng = np.random.default_rng(0)
    return Motion(rng.normal(size=(T, len(names), 3)).astype(np.float32), 30.0, tuple(names), parents,
                  source="synthetic.bvh")


UNITY = ["Root", "Pelvis", "Thigh_L", "Calf_L", "Foot_L", "Toe_L", "Thigh_R", "Calf_R", "Foot_R", "Toe_R",
         "Spine_A", "Spine_B", "Neck", "Head", "Clavicle_L", "UpperArm_L", "Forearm_L", "Hand_L",
         "Clavicle_R", "UpperArm_R", "Forearm_R", "Hand_R"]
UNITY_PARENTS = [-1, 0, 1, 2, 3, 4, 1, 6, 7, 8, 1, 10, 11, 12, 11, 14, 15, 16, 11, 18, 19, 20]


def test_automatic_matching_on_an_unknown_rig():
    m = _motion(UNITY, UNITY_PARENTS)
    mapping, rig, unmapped = build_mapping(m)
    assert rig.startswith("auto") and unmapped == []
    assert mapping["left_hip"] == {"Thigh_L": 1.0} and mapping["right_knee"] == {"Calf_R": 1.0}
    assert mapping["left_ankle"] == {"Foot_L": 1.0} and mapping["left_foot"] == {"Toe_L": 1.0}
    assert mapping["left_collar"] == {"Clavicle_L": 1.0} and mapping["left_shoulder"] == {"UpperArm_L": 1.0}
    assert mapping["pelvis"] == {"Pelvis": 1.0}
    # spine joints are placed along Pelvis -> Spine_A -> Spine_B -> Neck
    for s in ("spine1", "spine2", "spine3"):
        assert set(mapping[s]) <= {"Pelvis", "Spine_A", "Spine_B", "Neck"}
        assert abs(sum(mapping[s].values()) - 1) < 1e-9


def test_presets_are_chosen_by_joint_names():
    bandai = ["joint_Root", "Hips", "Spine", "Chest", "Neck", "Head"] + [
        f"{p}_{s}" for s in "LR" for p in ("Shoulder", "UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg",
                                          "Foot", "Toes")]
    assert build_mapping(_motion(bandai))[1] == "bandai"
    mixamo = ["mixamorig:" + n for n in ("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head")] + [
        f"mixamorig:{s}{p}" for s in ("Left", "Right") for p in
        ("Shoulder", "Arm", "ForeArm", "Hand", "UpLeg", "Leg", "Foot", "ToeBase")]
    assert build_mapping(_motion(mixamo))[1] == "mixamo"
    assert build_mapping(_motion(list(T2M.joint_names)))[1] == "smpl"


def test_unmappable_rig_lists_unmapped_and_source_joints():
    m = _motion(["Hips", "Chest", "Head", "LeftArm", "RightArm"], [-1, 0, 1, 1, 1])
    with pytest.raises(SkeletonMatchError) as e:
        retarget(m)
    msg = str(e.value)
    assert "synthetic.bvh: cannot map onto t2m" in msg
    assert "left_knee" in msg and "right_wrist" in msg           # canonical joints left unmapped
    assert "source joints: Hips, Chest, Head, LeftArm, RightArm" in msg
    assert "--joint-map" in msg


def test_joint_map_json_and_csv_override(tmp_path):
    m = _motion(UNITY, UNITY_PARENTS)
    (tmp_path / "map.json").write_text(json.dumps({"head": {"Head": 0.5, "Neck": 0.5}}))
    mapping, rig, _ = build_mapping(m, joint_map=tmp_path / "map.json")
    assert mapping["head"] == {"Head": 0.5, "Neck": 0.5} and "map.json" in rig
    (tmp_path / "map.csv").write_text("canonical,source,weight\nleft_wrist,Forearm_L,1\nleft_wrist,Hand_L,3\n")
    out = retarget(m, joint_map=tmp_path / "map.csv")
    lw = T2M.index("left_wrist")
    expected = 0.25 * m.joint("Forearm_L") + 0.75 * m.joint("Hand_L")
    np.testing.assert_allclose(out.positions[:, lw], expected, atol=1e-6)


@pytest.mark.parametrize("content, fragment", [
    ('{"head": "NoSuchJoint"}', "joint(s) not in synthetic.bvh: NoSuchJoint"),
    ('{"noggin": "Head"}', "not t2m joints: noggin"),
    ('{"head": 3}', "a mapping value must be a joint name"),
    ('{"head": ', "not valid JSON"),
])
def test_bad_joint_maps(tmp_path, content, fragment):
    (tmp_path / "m.json").write_text(content)
    with pytest.raises((ConfigError, SkeletonMatchError), match=fragment.replace("(", r"\(").replace(")", r"\)")):
        retarget(_motion(UNITY, UNITY_PARENTS), joint_map=tmp_path / "m.json")


def test_kit_is_derived_from_t2m_mapping():
    m = _motion(list(T2M.joint_names), list(T2M.parents))
    k = retarget(m, "kit")
    assert k.joint_names == KIT.joint_names and k.skeleton == "kit"
    np.testing.assert_allclose(k.positions[:, KIT.index("LW")], m.joint("left_wrist"), atol=1e-6)
    np.testing.assert_allclose(k.positions[:, KIT.index("RMrot")],
                               0.5 * (m.joint("right_ankle") + m.joint("right_foot")), atol=1e-6)


def test_kit_files_go_back_onto_t2m(tmp_path):
    """A KIT-skeleton file (m2t convert --skeleton kit, or HumanML3D's KIT .npy: 21 joints, no
    collars) maps onto t2m by the kit_ml preset, collars halfway from the lower neck to the
    shoulders, so `m2t caption` reads it (it was refused: no source joint for the collars)."""
    from m2t.converters.api import load_motion, save_motion
    from m2t.converters.retarget import mapping_detail
    from m2t.converters.synthetic import write_walk_bvh
    write_walk_bvh(tmp_path / "w.bvh", seconds=2.0)
    kit = load_motion(tmp_path / "w.bvh", skeleton="kit")
    save_motion(kit, tmp_path / "w_kit", npz=False)
    back = load_motion(tmp_path / "w_kit.npy", skeleton="t2m", keep_proportions=True)
    d = mapping_detail(load_motion(tmp_path / "w_kit.npy", skeleton="kit"), "t2m")
    assert d["rig"] == "kit_ml" and d["unmapped"] == []
    assert d["mapping"]["left_collar"] == {"BLN": 0.5, "LS": 0.5}
    assert back.skeleton == "t2m" and back.n_joints == 22 and np.isfinite(back.positions).all()
    k, t = back.joint_names.index, KIT.joint_names.index
    # the mapped joints land where the KIT joints were (frame 0: t = 0 at 12.5 and at 20 fps)
    ref = load_motion(tmp_path / "w_kit.npy", skeleton="kit", keep_proportions=True)
    for a, b in (("left_wrist", "LW"), ("right_ankle", "RA"), ("head", "BUN")):
        assert np.abs(back.positions[0, k(a)] - ref.positions[0, t(b)]).max() < 0.02, a
