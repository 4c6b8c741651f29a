"""Valid seed files for the fuzz suite, all written by m2t's own writers (or numpy / ezc3d's
writer for formats m2t only reads): nothing here comes from a dataset.

seed_files(dir) -> {format: (file to convert, file to mutate)}; every seed converts.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from m2t import converters
from m2t.converters import asfamc
from m2t.converters.skeletons import T2M_JOINTS
from m2t.converters.synthetic import write_walk_bvh

# a CMU-style ASF skeleton (inches, Y up, facing +Z, left on +X): the cmu_asf preset maps it
_L = [("hipjoint", "root", (1, -0.5, 0), 3), ("femur", "hipjoint", (0, -1, 0), 17),
      ("tibia", "femur", (0, -1, 0), 17), ("foot", "tibia", (0, -0.3, 1), 5),
      ("clavicle", "thorax", (1, 0.2, 0), 6), ("humerus", "clavicle", (1, 0, 0), 11),
      ("radius", "humerus", (1, 0, 0), 9)]
_C = [("lowerback", "root", (0, 1, 0), 4), ("upperback", "lowerback", (0, 1, 0), 4),
      ("thorax", "upperback", (0, 1, 0), 4), ("lowerneck", "thorax", (0, 1, 0), 3),
      ("upperneck", "lowerneck", (0, 1, 0), 3), ("head", "upperneck", (0, 1, 0), 3)]


def cmu_bones() -> list[dict]:
    bones = [dict(name=n, parent=p, direction=d, length=ln, dof="rx ry rz") for n, p, d, ln in _C]
    for side, sx in (("l", 1), ("r", -1)):
        for n, p, d, ln in _L:
            par = p if p in ("root", "thorax") else side + p
            bones.append(dict(name=side + n, parent=par, direction=(sx * d[0], d[1], d[2]), length=ln,
                              dof="rx ry rz"))
    order = {b["name"]: i for i, b in enumerate(bones)}
    return sorted(bones, key=lambda b: (_depth(b, bones), order[b["name"]]))


def _depth(b, bones) -> int:
    by = {x["name"]: x for x in bones}
    n = 0
    while b["parent"] != "root":
        b, n = by[b["parent"]], n + 1
    return n


def write_cmu_pair(d: Path, stem: str = "cmu", T: int = 40) -> tuple[Path, Path]:
    bones = cmu_bones()
    asfamc.write_asf(d / f"{stem}.asf", bones, name="fuzzrig")
    t = np.arange(T)[:, None]
    vals = {"root": np.hstack([0.5 * t, 36 + 0 * t, 2.0 * t, 0 * t, 0 * t, 0 * t])}
    for i, b in enumerate(bones):
        vals[b["name"]] = 10 * np.sin(0.2 * t + i) * np.ones((T, 3))
    asfamc.write_amc(d / f"{stem}.amc", vals)
    return d / f"{stem}.amc", d / f"{stem}.asf"


def write_c3d_seed(path: Path, T: int = 40) -> Path:
    """Markers named after the t2m joints (the `smpl` preset maps them), in mm, from the walk."""
    import ezc3d
    tmp = path.with_suffix(".seed.bvh")
    write_walk_bvh(tmp, seconds=T / 30.0, fps=30.0)
    m = converters.load_motion(tmp)
    tmp.unlink()
    xyz = m.positions * 1000.0
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [20.0]
    c["parameters"]["POINT"]["LABELS"]["value"] = tuple(T2M_JOINTS)
    c["parameters"]["POINT"]["UNITS"]["value"] = ["mm"]
    pts = np.ones((4, xyz.shape[1], xyz.shape[0]))
    pts[:3] = xyz.transpose(2, 1, 0)
    c["data"]["points"] = pts
    c.write(str(path))
    return path


def write_smpl_seed(path: Path, T: int = 30, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    poses = np.zeros((T, 156))
    poses[:, 0] = np.pi / 2                                    # AMASS: Z up
    poses[:, 3:66] = rng.normal(0, 0.15, (T, 63))
    trans = np.c_[np.linspace(0, 1, T), np.zeros(T), np.full(T, 0.9)]
    np.savez(path, poses=poses, trans=trans, betas=np.zeros(16), mocap_framerate=np.array(60.0),
             gender=np.array("male"))
    return path


def seed_files(d: Path) -> dict[str, tuple[Path, Path]]:
    d.mkdir(parents=True, exist_ok=True)
    write_walk_bvh(d / "walk.bvh", seconds=1.0)
    amc, asf = write_cmu_pair(d)
    write_c3d_seed(d / "markers.c3d")
    write_smpl_seed(d / "amass.npz")
    m = converters.load_motion(d / "walk.bvh")
    converters.save_motion(m, d / "m2t_out", npy=False)
    return {"bvh": (d / "walk.bvh",) * 2, "amc": (amc, amc), "asf": (amc, asf),
            "c3d": (d / "markers.c3d",) * 2, "smpl_npz": (d / "amass.npz",) * 2,
            "m2t_npz": (d / "m2t_out.npz",) * 2}
