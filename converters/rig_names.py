"""Joint-name schemes of the rigs labs and tools write, for matching by name.

Each scheme lists, for the canonical joints that are not on the spine (spine1-3 are always
placed along the source's pelvis-to-neck chain), the source names that hold them, best first.
Joints sit at the START of their bone (BVH semantics: "LeftLeg" is the knee). `{L}` stands for
L/R, `{Left}` for Left/Right. Names compare after :func:`normalise` (namespace and rig prefix
dropped, case and separators ignored), so `mixamorig:LeftUpLeg`, `Subject 1:LeftUpLeg` and
`leftupleg` are the same name.
"""
from __future__ import annotations

import re

_PREFIX = re.compile(r"^(mixamorig\d*|cc_base|rl|bip0?1|b|def|skeleton\d*|skel\d*|\d+)(?=[_ ]|$)[_ ]*", re.IGNORECASE)

# dict order breaks ties that the hints leave (plain Hips/LeftUpLeg/Spine1 names: HumanIK's naming)
SCHEMES: dict[str, dict] = {
    "humanik": {
        "hints": r"^(Reference|LeftUpLegRoll|LeftArmRoll|Spine[3-9]|LeafLeftHandIndex.*)$",
        "about": "Autodesk MotionBuilder HumanIK / Vicon Blade and Shogun (Hips, Spine..Spine9, LeftUpLeg, LeftArmRoll, ...)",
        "pelvis": ["Hips"], "hip": ["{Left}UpLeg"], "knee": ["{Left}Leg"], "ankle": ["{Left}Foot"],
        "foot": ["{Left}ToeBase", "{Left}FootToeBase"], "neck": ["Neck", "Neck1"], "head": ["Head"],
        "collar": ["{Left}Shoulder"], "shoulder": ["{Left}Arm"], "elbow": ["{Left}ForeArm"], "wrist": ["{Left}Hand"]},
    "character_creator": {
        "hints": r"^CC_Base_",
        "about": "Reallusion Character Creator / iClone (CC_Base_*; Pelvis is a sibling of Waist under Hip)",
        "pelvis": ["Hip", "Pelvis"], "hip": ["{L}_Thigh"], "knee": ["{L}_Calf"], "ankle": ["{L}_Foot"],
        "foot": ["{L}_ToeBase"], "neck": ["NeckTwist01", "Neck"], "head": ["Head"],
        "collar": ["{L}_Clavicle"], "shoulder": ["{L}_Upperarm"], "elbow": ["{L}_Forearm"], "wrist": ["{L}_Hand"]},
    "makehuman": {
        "hints": r"^(spine05|upperleg02|toe1-1)",
        "about": "MakeHuman default skeleton (root, spine05-01, neck01-03, upperleg01.L, toe1-1.L, ...)",
        "pelvis": ["root"], "hip": ["upperleg01.{L}"], "knee": ["lowerleg01.{L}"], "ankle": ["foot.{L}"],
        "foot": ["toe3-1.{L}", "toe2-1.{L}", "toe1-1.{L}"], "neck": ["neck01"], "head": ["head"],
        "collar": ["clavicle.{L}"], "shoulder": ["upperarm01.{L}"], "elbow": ["lowerarm01.{L}"], "wrist": ["wrist.{L}"]},
    "mb_lab": {
        "hints": r"^(toes_[LR]|thigh_twist_[LR])$",
        "about": "MB-Lab / ManuelBastioniLAB (pelvis, thigh_L, calf_L, foot_L, toes_L, clavicle_L, ...)",
        "pelvis": ["pelvis"], "hip": ["thigh_{L}"], "knee": ["calf_{L}"], "ankle": ["foot_{L}"],
        "foot": ["toes_{L}"], "neck": ["neck"], "head": ["head"], "collar": ["clavicle_{L}"],
        "shoulder": ["upperarm_{L}"], "elbow": ["lowerarm_{L}"], "wrist": ["hand_{L}"]},
    "cmu_mb": {
        "hints": r"^(LowerBack|lhipjoint|LHipJoint|LeftFingerBase)$",
        "about": "CMU (cgspeed BVH, MakeHuman 'CMU MB', Xia) in any letter case, and the lower-case/DAZ-friendly CMU variant",
        "pelvis": ["Hips", "hip"], "hip": ["{Left}UpLeg", "{L}Hip", "{L}Thigh"],
        "knee": ["{Left}Leg", "{L}Knee", "{L}Shin"], "ankle": ["{Left}Foot", "{L}Foot"],
        "foot": ["{Left}ToeBase", "{L}ToeBase", "{L}Toe", "{Left}Toe"], "neck": ["Neck", "LowerNeck"],
        "head": ["Head"], "collar": ["{Left}Shoulder", "{L}Collar"], "shoulder": ["{Left}Arm", "{L}Shldr", "{L}Shoulder"],
        "elbow": ["{Left}ForeArm", "{L}ForeArm", "{L}Elbow"], "wrist": ["{Left}Hand", "{L}Hand", "{L}Wrist"]},
    "mixamo": {
        "hints": r"^mixamorig\d*:",
        "about": "Adobe Mixamo (mixamorig:, mixamorig1: ... prefixes)",
        "pelvis": ["Hips"], "hip": ["{Left}UpLeg"], "knee": ["{Left}Leg"], "ankle": ["{Left}Foot"],
        "foot": ["{Left}ToeBase"], "neck": ["Neck"], "head": ["Head"], "collar": ["{Left}Shoulder"],
        "shoulder": ["{Left}Arm"], "elbow": ["{Left}ForeArm"], "wrist": ["{Left}Hand"]},
    "unreal": {
        "hints": r"^(ik_foot_root|ik_hand_root|ball_[lr]|spine_0\d|thigh_twist_01_[lr])$",
        "about": "Unreal Engine mannequin (UE4 and UE5: pelvis, spine_01.., thigh_l, calf_l, foot_l, ball_l, twist bones)",
        "pelvis": ["pelvis"], "hip": ["thigh_{L}"], "knee": ["calf_{L}"], "ankle": ["foot_{L}"],
        "foot": ["ball_{L}"], "neck": ["neck_01"], "head": ["head"], "collar": ["clavicle_{L}"],
        "shoulder": ["upperarm_{L}"], "elbow": ["lowerarm_{L}"], "wrist": ["hand_{L}"]},
    "unity": {
        "hints": r"^(UpperChest|LeftToes|LeftLowerArm)$",
        "about": "Unity humanoid avatar bone names (Hips, LeftUpperLeg, LeftLowerLeg, LeftToes, Chest, UpperChest, ...)",
        "pelvis": ["Hips"], "hip": ["{Left}UpperLeg"], "knee": ["{Left}LowerLeg"], "ankle": ["{Left}Foot"],
        "foot": ["{Left}Toes"], "neck": ["Neck"], "head": ["Head"], "collar": ["{Left}Shoulder"],
        "shoulder": ["{Left}UpperArm"], "elbow": ["{Left}LowerArm"], "wrist": ["{Left}Hand"]},
    "rokoko": {
        "hints": r"^(LeftShin|Spine4)$",
        "about": "Rokoko Studio (Hips, Spine1-4, LeftThigh, LeftShin, LeftToe, ...)",
        "pelvis": ["Hips"], "hip": ["{Left}Thigh", "{Left}UpLeg"], "knee": ["{Left}Shin", "{Left}Leg"],
        "ankle": ["{Left}Foot"], "foot": ["{Left}Toe", "{Left}ToeBase"], "neck": ["Neck"], "head": ["Head"],
        "collar": ["{Left}Shoulder"], "shoulder": ["{Left}Arm"], "elbow": ["{Left}ForeArm"], "wrist": ["{Left}Hand"]},
    "xsens": {
        "hints": r"^(L5|L3|T12|T8)$",
        "about": "Xsens MVN (Pelvis, L5, L3, T12, T8, Neck, Head, LeftUpperLeg, LeftLowerLeg, LeftToe, ...)",
        "pelvis": ["Pelvis"], "hip": ["{Left}UpperLeg"], "knee": ["{Left}LowerLeg"], "ankle": ["{Left}Foot"],
        "foot": ["{Left}Toe"], "neck": ["Neck"], "head": ["Head"], "collar": ["{Left}Shoulder"],
        "shoulder": ["{Left}UpperArm"], "elbow": ["{Left}ForeArm"], "wrist": ["{Left}Hand"]},
    "optitrack": {
        "hints": r"^(Ab|LUArm|LFArm)$",
        "about": "OptiTrack Motive (Hip, Ab, Chest, LShoulder, LUArm, LFArm, LHand, LThigh, LShin, LFoot, LToe)",
        "pelvis": ["Hip"], "hip": ["{L}Thigh"], "knee": ["{L}Shin"], "ankle": ["{L}Foot"], "foot": ["{L}Toe"],
        "neck": ["Neck"], "head": ["Head"], "collar": ["{L}Shoulder"], "shoulder": ["{L}UArm"],
        "elbow": ["{L}FArm"], "wrist": ["{L}Hand"]},
    "perception_neuron": {
        "hints": r"^(LeftInHand\w*|RightInHand\w*)$",
        "about": "Noitom Perception Neuron (Hips, LeftUpLeg, LeftLeg, LeftFoot, Spine..Spine3, LeftHandThumb1, no toes)",
        "pelvis": ["Hips"], "hip": ["{Left}UpLeg"], "knee": ["{Left}Leg"], "ankle": ["{Left}Foot"],
        "foot": ["{Left}Foot_End", "{Left}FootEnd", "{Left}Foot_End_End"], "neck": ["Neck"], "head": ["Head"],
        "collar": ["{Left}Shoulder"], "shoulder": ["{Left}Arm"], "elbow": ["{Left}ForeArm"], "wrist": ["{Left}Hand"]},
    "bandai": {
        "hints": r"^joint_Root$",
        "about": "Bandai-Namco Research (joint_Root, Hips, UpperLeg_L, LowerLeg_L, Foot_L, Toes_L, ...)",
        "pelvis": ["Hips"], "hip": ["UpperLeg_{L}"], "knee": ["LowerLeg_{L}"], "ankle": ["Foot_{L}"],
        "foot": ["Toes_{L}"], "neck": ["Neck"], "head": ["Head"], "collar": ["Shoulder_{L}"],
        "shoulder": ["UpperArm_{L}"], "elbow": ["LowerArm_{L}"], "wrist": ["Hand_{L}"]},
    "biovision": {
        "hints": r"^(LeftAnkle|LeftLowLeg|LeftUpArm)$",
        "about": "Biovision BVH (Hips, Chest, LeftHip/LeftKnee/LeftAnkle or LeftUpLeg/LeftLowLeg, LeftCollar, LeftUpArm, LeftLowArm, ...)",
        "pelvis": ["Hips"], "hip": ["{Left}Hip", "{Left}UpLeg"], "knee": ["{Left}Knee", "{Left}LowLeg"],
        "ankle": ["{Left}Ankle", "{Left}Foot"], "foot": ["{Left}Toe", "{Left}Ankle_End", "{Left}Foot_End"],
        "neck": ["Neck"], "head": ["Head"], "collar": ["{Left}Collar"],
        "shoulder": ["{Left}Shoulder", "{Left}UpArm"], "elbow": ["{Left}Elbow", "{Left}LowArm"],
        "wrist": ["{Left}Wrist", "{Left}Hand"]},
}
SCHEME_KEYS = ("about", "hints")
PARTS = ("pelvis", "neck", "head", "hip", "knee", "ankle", "foot", "collar", "shoulder", "elbow", "wrist")
SIDED = ("hip", "knee", "ankle", "foot", "collar", "shoulder", "elbow", "wrist")


def normalise(name: str) -> str:
    """'mixamorig:LeftUpLeg' -> 'leftupleg'; 'CC_Base_L_Thigh' -> 'lthigh'; 'upperleg01.L' -> 'upperleg01l'."""
    name = re.split(r"[:|]", name)[-1].strip()
    prev = None
    while prev != name:
        prev, name = name, _PREFIX.sub("", name, count=1) or name
    return re.sub(r"[\s_.\-]", "", name).lower()


def _expand(template: str, side: str) -> str:
    return template.replace("{L}", side[0].upper()).replace("{Left}", side.capitalize())


def candidates(scheme: dict, part: str, side: str | None) -> list[str]:
    return [normalise(_expand(t, side) if side else t) for t in scheme.get(part, [])]


def match_scheme(names) -> tuple[str | None, dict[str, int]]:
    """-> (best scheme name, {t2m joint: source index}) by the number of canonical joints found;
    ties go to the scheme whose telltale names ("hints", on the names without namespace) occur most."""
    lookup: dict[str, int] = {}
    for i, n in enumerate(names):
        lookup.setdefault(normalise(n), i)
    best, best_found, best_score = None, {}, (0, 0)
    for sname, scheme in SCHEMES.items():
        found: dict[str, int] = {}
        for part in PARTS:
            for side in (("left", "right") if part in SIDED else (None,)):
                target = f"{side}_{part}" if side else part
                for c in candidates(scheme, part, side):
                    if c in lookup and lookup[c] not in found.values():
                        found[target] = lookup[c]
                        break
        hint = re.compile(scheme["hints"], re.IGNORECASE)
        score = (len(found), sum(bool(hint.search(n)) or bool(hint.search(re.split(r"[:|]", n)[-1])) for n in names))
        if score > best_score:
            best, best_found, best_score = sname, found, score
    return best, best_found
