"""Rig matching on the rigs labs have: one rig per name scheme, written with m2t's BVH writer
(realistic names, twist/roll/finger/face/prop/IK joints, odd root placement), plus rigs with no
usable names (structure and rest-pose geometry only)."""
from __future__ import annotations

import numpy as np
import pytest

from m2t.converters import SkeletonMatchError, load_motion, read_motion
from m2t.converters.body import bone_lengths
from m2t.converters.retarget import mapping_detail
from m2t.converters.skeletons import T2M

from rigkit import build

F5 = ["Thumb", "Index", "Middle", "Ring", "Pinky"]
RIGS = {
    "character_creator": dict(
        root="CC_Base_BoneRoot", pelvis="CC_Base_Hip", legs_parent="CC_Base_Pelvis",
        hip="CC_Base_{L}_Thigh", knee="CC_Base_{L}_Calf", ankle="CC_Base_{L}_Foot", foot="CC_Base_{L}_ToeBase",
        leg_twists=["CC_Base_{L}_ThighTwist01", "CC_Base_{L}_KneeShareBone"],
        spine=["CC_Base_Waist", "CC_Base_Spine01", "CC_Base_Spine02"],
        neck=["CC_Base_NeckTwist01", "CC_Base_NeckTwist02"], head="CC_Base_Head",
        face=["CC_Base_JawRoot", "CC_Base_L_Eye", "CC_Base_R_Eye", "CC_Base_Teeth01"],
        collar="CC_Base_{L}_Clavicle", shoulder="CC_Base_{L}_Upperarm", elbow="CC_Base_{L}_Forearm",
        wrist="CC_Base_{L}_Hand", arm_twists=["CC_Base_{L}_UpperarmTwist01", "CC_Base_{L}_ElbowShareBone"],
        fingers=[f"CC_Base_{{L}}_{f}" for f in F5]),
    "makehuman": dict(
        pelvis="root", hipjoint="pelvis.{L}", hip="upperleg01.{L}", thigh_twist_inline="upperleg02.{L}",
        knee="lowerleg01.{L}", ankle="foot.{L}", toes=[f"toe{k}-1.{{L}}" for k in range(1, 6)],
        expect_foot="toe3-1.{L}", spine=["spine05", "spine04", "spine03", "spine02", "spine01"],
        neck=["neck01", "neck02", "neck03"], head="head", face=["jaw", "eye.L", "eye.R"],
        collar="clavicle.{L}", shoulder="upperarm01.{L}", elbow="lowerarm01.{L}", wrist="wrist.{L}",
        fingers=[f"finger{k}-{{n}}.{{L}}" for k in range(1, 6)]),
    "mb_lab": dict(
        pelvis="pelvis", hip="thigh_{L}", knee="calf_{L}", ankle="foot_{L}", foot="toes_{L}",
        leg_twists=["thigh_twist_{L}", "calf_twist_{L}"], spine=["spine01", "spine02", "spine03"], neck=["neck"],
        head="head", collar="clavicle_{L}", shoulder="upperarm_{L}", elbow="lowerarm_{L}", wrist="hand_{L}",
        arm_twists=["upperarm_twist_{L}"], fingers=["index0{n}_{L}", "thumb0{n}_{L}", "middle0{n}_{L}"]),
    "cmu_lowercase": dict(
        pelvis="hip", hipjoint="{l}hipjoint", hip="{l}hip", knee="{l}knee", ankle="{l}foot", foot="{left}toebase",
        spine=["lowerback", "spine", "spine1"], neck=["neck", "neck1"], head="head", collar="{l}collar",
        shoulder="{l}shldr", elbow="{l}forearm", wrist="{l}hand", fingers=["{l}thumb", "{left}handindex"]),
    "cmu_uppercase": dict(
        pelvis="HIPS", hipjoint="{L}HIPJOINT", hip="{LEFT}UPLEG", knee="{LEFT}LEG", ankle="{LEFT}FOOT",
        foot="{LEFT}TOEBASE", spine=["LOWERBACK", "SPINE", "SPINE1"], neck=["NECK", "NECK1"], head="HEAD",
        collar="{LEFT}SHOULDER", shoulder="{LEFT}ARM", elbow="{LEFT}FOREARM", wrist="{LEFT}HAND",
        fingers=["{LEFT}FINGERBASE", "{L}THUMB"]),
    "makehuman_cmu_mb_lowercase": dict(          # the example: feet lfoot, toes toe1-1.l ... toe5-1.l
        pelvis="hips", hip="{l}thigh", knee="{l}shin", ankle="{l}foot", toes=[f"toe{k}-1.{{l}}" for k in range(1, 6)],
        expect_foot=None, spine=["abdomen", "chest"], neck=["neck"], head="head", collar="{l}collar",
        shoulder="{l}shldr", elbow="{l}forearm", wrist="{l}hand", fingers=[f"finger{k}-{{n}}.{{l}}" for k in range(1, 6)],
        face=["jaw", "eye.l", "eye.r", "tongue01"]),
    "mixamo": dict(
        pelvis="mixamorig1:Hips", hip="mixamorig1:{Left}UpLeg", knee="mixamorig1:{Left}Leg",
        ankle="mixamorig1:{Left}Foot", foot="mixamorig1:{Left}ToeBase",
        spine=["mixamorig1:Spine", "mixamorig1:Spine1", "mixamorig1:Spine2"], neck=["mixamorig1:Neck"],
        head="mixamorig1:Head", collar="mixamorig1:{Left}Shoulder", shoulder="mixamorig1:{Left}Arm",
        elbow="mixamorig1:{Left}ForeArm", wrist="mixamorig1:{Left}Hand",
        fingers=[f"mixamorig1:{{Left}}Hand{f}" for f in F5]),
    "humanik": dict(
        root="Reference", pelvis="Hips", hip="{Left}UpLeg", knee="{Left}Leg", ankle="{Left}Foot",
        foot="{Left}ToeBase", leg_twists=["{Left}UpLegRoll"], spine=["Spine", "Spine1", "Spine2", "Spine3"],
        neck=["Neck", "Neck1"], head="Head", collar="{Left}Shoulder", shoulder="{Left}Arm", elbow="{Left}ForeArm",
        wrist="{Left}Hand", arm_twists=["{Left}ArmRoll"], fingers=[f"{{Left}}Hand{f}" for f in F5]),
    "vicon_shogun": dict(
        pelvis="Taylor:Hips", hip="Taylor:{Left}UpLeg", knee="Taylor:{Left}Leg", ankle="Taylor:{Left}Foot",
        foot="Taylor:{Left}ToeBase", spine=["Taylor:Spine", "Taylor:Spine1", "Taylor:Spine2", "Taylor:Spine3"],
        neck=["Taylor:Neck", "Taylor:Neck1"], head="Taylor:Head", collar="Taylor:{Left}Shoulder",
        shoulder="Taylor:{Left}Arm", elbow="Taylor:{Left}ForeArm", wrist="Taylor:{Left}Hand",
        fingers=["Taylor:{Left}HandThumb", "Taylor:{Left}HandIndex"], prop="Taylor:Sword_Prop"),
    "unreal": dict(
        root="root", pelvis="pelvis", hip="thigh_{l}", knee="calf_{l}", ankle="foot_{l}", foot="ball_{l}",
        leg_twists=["thigh_twist_01_{l}", "calf_twist_01_{l}"], spine=["spine_01", "spine_02", "spine_03"],
        neck=["neck_01"], head="head", collar="clavicle_{l}", shoulder="upperarm_{l}", elbow="lowerarm_{l}",
        wrist="hand_{l}", arm_twists=["upperarm_twist_01_{l}", "lowerarm_twist_01_{l}"],
        fingers=["index_0{n}_{l}", "middle_0{n}_{l}", "thumb_0{n}_{l}"],
        helpers=[("ik_foot_root", "ik_foot_l", "left_ankle"), ("ik_foot_root", "ik_foot_r", "right_ankle"),
                 ("ik_hand_root", "ik_hand_gun", "right_wrist")]),
    "unity": dict(
        pelvis="Hips", hip="{Left}UpperLeg", knee="{Left}LowerLeg", ankle="{Left}Foot", foot="{Left}Toes",
        spine=["Spine", "Chest", "UpperChest"], neck=["Neck"], head="Head", collar="{Left}Shoulder",
        shoulder="{Left}UpperArm", elbow="{Left}LowerArm", wrist="{Left}Hand",
        fingers=["{Left}IndexProximal", "{Left}ThumbProximal"]),
    "rokoko": dict(
        pelvis="Hips", hip="{Left}Thigh", knee="{Left}Shin", ankle="{Left}Foot", foot="{Left}Toe",
        spine=["Spine1", "Spine2", "Spine3", "Spine4"], neck=["Neck"], head="Head", collar="{Left}Shoulder",
        shoulder="{Left}Arm", elbow="{Left}ForeArm", wrist="{Left}Hand",
        fingers=["{Left}FingerIndex", "{Left}FingerThumb"]),
    "xsens": dict(
        pelvis="Pelvis", hip="{Left}UpperLeg", knee="{Left}LowerLeg", ankle="{Left}Foot", foot="{Left}Toe",
        spine=["L5", "L3", "T12", "T8"], neck=["Neck"], head="Head", collar="{Left}Shoulder",
        shoulder="{Left}UpperArm", elbow="{Left}ForeArm", wrist="{Left}Hand"),
    "optitrack": dict(
        pelvis="Skeleton1_Hip", hip="Skeleton1_{L}Thigh", knee="Skeleton1_{L}Shin", ankle="Skeleton1_{L}Foot",
        foot="Skeleton1_{L}Toe", spine=["Skeleton1_Ab", "Skeleton1_Chest"], neck=["Skeleton1_Neck"],
        head="Skeleton1_Head", collar="Skeleton1_{L}Shoulder", shoulder="Skeleton1_{L}UArm",
        elbow="Skeleton1_{L}FArm", wrist="Skeleton1_{L}Hand"),
    "perception_neuron": dict(
        pelvis="Hips", hip="{Left}UpLeg", knee="{Left}Leg", ankle="{Left}Foot",
        spine=["Spine", "Spine1", "Spine2", "Spine3"], neck=["Neck"], head="Head", collar="{Left}Shoulder",
        shoulder="{Left}Arm", elbow="{Left}ForeArm", wrist="{Left}Hand",
        fingers=["{Left}HandThumb", "{Left}InHandIndex", "{Left}HandIndex"]),
    "bandai": dict(
        root="joint_Root", pelvis="Hips", hip="UpperLeg_{L}", knee="LowerLeg_{L}", ankle="Foot_{L}",
        foot="Toes_{L}", spine=["Spine", "Chest"], neck=["Neck"], head="Head", collar="Shoulder_{L}",
        shoulder="UpperArm_{L}", elbow="LowerArm_{L}", wrist="Hand_{L}"),
    "biovision": dict(
        pelvis="Hips", hip="{Left}Hip", knee="{Left}Knee", ankle="{Left}Ankle", spine=["Chest"], neck=["Neck"],
        head="Head", collar="{Left}Collar", shoulder="{Left}Shoulder", elbow="{Left}Elbow", wrist="{Left}Wrist"),
}
SCHEME_OF = {"makehuman_cmu_mb_lowercase": ("cmu_mb",), "cmu_lowercase": ("cmu_mb", "cmu_bvh"), "cmu_uppercase": ("cmu_mb", "cmu_bvh"),
             "vicon_shogun": ("humanik",), "mixamo": ("mixamo",), "bandai": ("bandai",)}
# odd root placements: on the floor (root rows above), far from the body, facing away
PLACEMENT = {"xsens": dict(shift=(2.0, 0.0, -3.0)), "unity": dict(facing_deg=180.0),
             "rokoko": dict(facing_deg=90.0, units=1.0), "optitrack": dict(units=1000.0)}


def _check(path, expected):
    raw = read_motion(path, units={1.0: "m", 100.0: "cm", 1000.0: "mm"}[1.0 if "rokoko" in path.name else
                                                                      1000.0 if "optitrack" in path.name else 100.0])
    d = mapping_detail(raw)
    got = {k: next(iter(v)) for k, v in d["mapping"].items() if k in expected and len(v) == 1}
    wrong = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
    assert not wrong, f"(got, expected): {wrong}; how: {d['how']}"
    return raw, d


@pytest.mark.parametrize("rig", sorted(RIGS))
def test_name_schemes(tmp_path, rig):
    f = tmp_path / f"{rig}.bvh"
    expected = build(f, RIGS[rig], **PLACEMENT.get(rig, {}))
    raw, d = _check(f, expected)
    want = SCHEME_OF.get(rig, (rig,))
    assert any(w in d["rig"] for w in want), d["rig"]
    m = load_motion(f, units=raw.meta["units"])
    p = m.positions
    assert p[0, T2M.index("left_hip"), 0] > 0 and p[0, T2M.index("left_shoulder"), 0] > 0   # left on +X
    assert bone_lengths(p, T2M.parents)[:, 1:].min() > 0.03
    assert p[-1, 0, 2] - p[0, 0, 2] > 1.0          # walked forward


@pytest.mark.parametrize("rig,facing", [("character_creator", 0.0), ("unreal", 180.0), ("makehuman", 65.0),
                                        ("humanik", -90.0)])
def test_structure_without_names(tmp_path, rig, facing):
    """No name says anything: chains from the hierarchy, left/right from rest-pose geometry; twist,
    finger, face and IK joints ignored."""
    f = tmp_path / "anon.bvh"
    r = {k: v for k, v in RIGS[rig].items() if k != "helpers"}      # IK helpers are known by name only
    expected = build(f, r, facing_deg=facing, anonymous=True)
    expected.pop("neck")                       # several neck joints: any of them is fine
    if rig == "makehuman":
        expected.pop("left_foot"), expected.pop("right_foot")   # any of the five toes
    raw = read_motion(f, units="cm")
    d = mapping_detail(raw)
    got = {k: next(iter(v)) for k, v in d["mapping"].items() if len(v) == 1}
    wrong = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
    assert not wrong, f"(got, expected): {wrong}; how: {d['how']}"
    assert d["how"]["left_knee"][0] == "structure"
    m = load_motion(f, units="cm")
    assert m.positions[0, T2M.index("left_hip"), 0] > 0


def test_symmetric_rig_without_names_is_ambiguous(tmp_path):
    """Nothing tells front from back (no depth) and no name says a side: one line naming the
    joints and --joint-map."""
    from m2t.converters import Motion
    from m2t.converters.retarget import retarget
    f = tmp_path / "anon.bvh"
    build(f, RIGS["biovision"], anonymous=True)
    raw = read_motion(f, units="cm")
    flat = raw.positions.copy()
    flat[..., 2] = 0.0
    with pytest.raises(SkeletonMatchError) as e:
        retarget(Motion(flat, raw.fps, raw.joint_names, raw.parents, source="flat.bvh"))
    msg = str(e.value)
    assert "cannot tell the left" in msg and "Bone." in msg and "--joint-map" in msg and "\n" not in msg


def test_info_shows_how_each_joint_was_found(tmp_path):
    from m2t.converters import info
    f = tmp_path / "cc.bvh"
    build(f, RIGS["character_creator"])
    d = info(f, units="cm")
    assert d["found_by"]["left_knee"].startswith("name (character_creator scheme)")
    assert "placed along the pelvis-neck chain" in d["found_by"]["spine2"]
    assert all(k in d["found_by"] for k in T2M.joint_names)
    conf = [float(v.rsplit("(", 1)[1].rstrip(")")) for v in d["found_by"].values()]
    assert min(conf) > 0.5 and max(conf) <= 1.0
    np.testing.assert_equal(d["unmapped"], [])
