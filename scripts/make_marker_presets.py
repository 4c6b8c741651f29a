"""Write the partial and vendor marker-set presets in converters/presets/ (run from the repo root).

    python scripts/make_marker_presets.py

Joint centres are weighted means of markers (docs/formats.md, C3D). Sided joints are written for
the left side with L-names and mirrored. Spine joints lie between a pelvis and an upper-trunk
marker mix at the canonical body's heights (pelvis -> neck fractions 0.24, 0.49, 0.59).
"""
from __future__ import annotations

import json
from pathlib import Path

OUT = Path("converters/presets")
SPINE_F = {"spine1": 0.24, "spine2": 0.49, "spine3": 0.59}


def mix(*parts):
    """mix((w, {marker: w}), ...) -> {marker: weight}."""
    out = {}
    for w, d in parts:
        for k, v in d.items():
            out[k] = round(out.get(k, 0.0) + w * v, 4)
    return out


def sided(table, left, right):
    """{"left_knee": {"{S}KNE": 1}} with {S} -> left/right spellings."""
    out = {}
    for joint, row in table.items():
        for side, s in (("left", left), ("right", right)):
            o = right if side == "left" else left
            out[joint.replace("{side}", side)] = {k.replace("{S}", s).replace("{O}", o): v for k, v in row.items()}
    return out


def spine(pelvis, top):
    return {k: mix((1 - f, pelvis), (f, top)) for k, f in SPINE_F.items()}


def preset(name, about, t2m, observed_note):
    d = {"name": name, "description": f"{about} {observed_note}", "t2m": t2m}
    (OUT / f"{name}.json").write_text(json.dumps(d, indent=1) + "\n")


def main():
    pig_pelvis = {"LASI": 0.25, "RASI": 0.25, "LPSI": 0.25, "RPSI": 0.25}
    pig_hip = {"{side}_hip": {"{S}ASI": 0.65, "{O}ASI": 0.05, "{S}PSI": 0.25, "{O}PSI": 0.05}}
    legs = sided({**pig_hip, "{side}_knee": {"{S}KNE": 1}, "{side}_ankle": {"{S}ANK": 1},
                  "{side}_foot": {"{S}TOE": 1}}, "L", "R")
    preset("plugin_gait_lower", "Vicon Plug-in Gait lower body (LASI, RASI, LPSI, RPSI, LKNE, LANK, LTOE, ...).",
           {"pelvis": pig_pelvis, **legs}, "Observed: pelvis, hips, knees, ankles, feet; the rest is unobserved.")
    sacr = {"LASI": 0.25, "RASI": 0.25, "SACR": 0.5}
    legs_s = sided({"{side}_hip": {"{S}ASI": 0.65, "{O}ASI": 0.05, "SACR": 0.3}, "{side}_knee": {"{S}KNE": 1},
                    "{side}_ankle": {"{S}ANK": 1}, "{side}_foot": {"{S}TOE": 1}}, "L", "R")
    preset("plugin_gait_lower_sacr", "Vicon Plug-in Gait lower body with one SACR marker.",
           {"pelvis": sacr, **legs_s}, "Observed: pelvis, hips, knees, ankles, feet.")
    top = {"C7": 0.5, "CLAV": 0.5}
    upper = {"spine2": {"T10": 0.65, "STRN": 0.35}, "spine3": {"T10": 0.55, "STRN": 0.3, "C7": 0.1, "CLAV": 0.05},
             "neck": {"C7": 0.6, "CLAV": 0.4},
             "head": {"LFHD": 0.125, "RFHD": 0.125, "LBHD": 0.125, "RBHD": 0.125, "C7": 0.3, "CLAV": 0.2},
             **sided({"{side}_collar": {"{S}SHO": 0.4, "CLAV": 0.3, "T10": 0.15, "STRN": 0.15},
                      "{side}_shoulder": {"{S}SHO": 1}, "{side}_elbow": {"{S}ELB": 1},
                      "{side}_wrist": {"{S}WRA": 0.5, "{S}WRB": 0.5}}, "L", "R")}
    preset("plugin_gait_upper", "Vicon Plug-in Gait upper body (head, C7, T10, CLAV, STRN, shoulders, elbows, wrists).",
           upper, "Observed: spine2-3, neck, head, collars, arms; pelvis and legs unobserved.")
    asi = {"LASI": 0.5, "RASI": 0.5}
    preset("plugin_gait_upper_asi", "Plug-in Gait upper body with LASI/RASI (no PSI markers).",
           {**upper, "pelvis": mix((0.85, asi), (0.15, {"T10": 1})), "spine1": mix((0.7, asi), (0.3, {"T10": 1})),
            **sided({"{side}_hip": {"{S}ASI": 0.8, "{O}ASI": 0.1, "T10": 0.1}}, "L", "R")},
           "Pelvis and hips approximated from the front pelvis markers only (a few cm off); legs unobserved.")
    # Helen Hayes / Davis (as written by BTS: lower-case labels with spaces)
    hh_pelvis = {"l asis": 0.3, "r asis": 0.3, "sacrum": 0.4}
    hh_top = {"c7": 0.7, "l should": 0.15, "r should": 0.15}
    hh_common = {"pelvis": hh_pelvis, **spine(hh_pelvis, hh_top), "neck": hh_top,
                 **sided({"{side}_hip": {"{S} asis": 0.6, "{O} asis": 0.1, "sacrum": 0.3},
                          "{side}_knee": {"{S} knee 1": 1}, "{side}_foot": {"{S} met": 1},
                          "{side}_shoulder": {"{S} should": 1},
                          "{side}_collar": {"{S} should": 0.5, "c7": 0.5}}, "l", "r")}
    preset("helen_hayes", "Helen Hayes / Davis marker set as BTS writes it (sacrum, l/r asis, thigh, bar 1, knee 1, "
           "bar 2, mall, met, heel, should, c7).",
           {**hh_common, **sided({"{side}_ankle": {"{S} mall": 1}}, "l", "r")},
           "Observed: pelvis, hips, spine (sacrum to C7), knees, ankles, feet, shoulders; head, elbows, wrists unobserved.")
    preset("helen_hayes_heel", "Helen Hayes / Davis without malleolus markers (BTS: heel, met, knee 1, ATT).",
           {**hh_common, **sided({"{side}_ankle": {"{S} heel": 0.75, "{S} met": 0.1, "{S} knee 1": 0.15}}, "l", "r")},
           "Ankle estimated 7 cm up the shank from the heel marker (about 3 cm error); head and arms unobserved.")
    cast_pelvis = {"LASIS": 0.25, "RASIS": 0.25, "LPSIS": 0.25, "RPSIS": 0.25}
    preset("cast_ior", "CAST / IOR lower body (LASIS, RASIS, LPSIS, RPSIS, knee KL/KM, ankle AL/AM, foot FM/FL, heel H, "
           "thigh and shank clusters).",
           {"pelvis": cast_pelvis,
            **sided({"{side}_hip": {"{S}ASIS": 0.65, "{O}ASIS": 0.05, "{S}PSIS": 0.25, "{O}PSIS": 0.05},
                     "{side}_knee": {"{S}KL": 0.5, "{S}KM": 0.5}, "{side}_ankle": {"{S}AL": 0.5, "{S}AM": 0.5},
                     "{side}_foot": {"{S}FM": 0.5, "{S}FL": 0.5}}, "L", "R")},
           "Observed: pelvis, hips, knees, ankles, feet.")
    waist = {"WaistLFront": 0.25, "WaistRFront": 0.25, "WaistLBack": 0.25, "WaistRBack": 0.25}
    hips = {"{side}_hip": {"Waist{S}Front": 0.65, "Waist{O}Front": 0.05, "Waist{S}Back": 0.25, "Waist{O}Back": 0.05}}
    q_top = {"SpineTop": 0.5, "Chest": 0.5}
    preset("qualisys_sports", "Qualisys Sports / Animation marker set (WaistLFront..., SpineTop, Chest, BackL/R, HeadL/R/"
           "Top/Front, LShoulderTop, LElbowOut/In, LWristOut/In, LKneeOut/In, LAnkleOut/In, LForefoot2/5, ...).",
           {"pelvis": waist, **spine(waist, q_top), "neck": q_top,
            "head": mix((0.5, {"HeadL": 0.25, "HeadR": 0.25, "HeadTop": 0.25, "HeadFront": 0.25}), (0.5, q_top)),
            **sided({**hips, "{side}_knee": {"{S}KneeOut": 0.5, "{S}KneeIn": 0.5},
                     "{side}_ankle": {"{S}AnkleOut": 0.5, "{S}AnkleIn": 0.5},
                     "{side}_foot": {"{S}Forefoot2": 0.5, "{S}Forefoot5": 0.5},
                     "{side}_collar": {"{S}ShoulderTop": 0.4, "SpineTop": 0.3, "Chest": 0.3},
                     "{side}_shoulder": {"{S}ShoulderTop": 1},
                     "{side}_elbow": {"{S}ElbowOut": 0.5, "{S}ElbowIn": 0.5},
                     "{side}_wrist": {"{S}WristOut": 0.5, "{S}WristIn": 0.5}}, "L", "R")},
           "Full body; shoulder at the acromion marker (~4 cm above the joint). Labels as in Qualisys' published "
           "marker-set guide; not checked on a vendor file here.")
    o_top = {"BackTop": 0.5, "Chest": 0.5}
    preset("optitrack_conventional", "OptiTrack Motive Conventional / Baseline full body (WaistLFront..., BackTop, Chest, "
           "HeadTop/Front/Side, LShoulderTop, LElbowOut, LWristOut/In, LKneeOut, LAnkleOut, LToeOut/In, LHeel).",
           {"pelvis": waist, **spine(waist, o_top), "neck": o_top,
            "head": mix((0.5, {"HeadTop": 0.34, "HeadFront": 0.33, "HeadSide": 0.33}), (0.5, o_top)),
            **sided({**hips, "{side}_knee": {"{S}KneeOut": 1}, "{side}_ankle": {"{S}AnkleOut": 1},
                     "{side}_foot": {"{S}ToeOut": 0.5, "{S}ToeIn": 0.5},
                     "{side}_collar": {"{S}ShoulderTop": 0.4, "BackTop": 0.3, "Chest": 0.3},
                     "{side}_shoulder": {"{S}ShoulderTop": 1}, "{side}_elbow": {"{S}ElbowOut": 1},
                     "{side}_wrist": {"{S}WristOut": 0.5, "{S}WristIn": 0.5}}, "L", "R")},
           "Full body; knee, ankle, elbow at the lateral markers (3-5 cm off). Labels as in OptiTrack's published "
           "Baseline marker set; not checked on a vendor file here.")


if __name__ == "__main__":
    main()
