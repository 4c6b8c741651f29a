"""SMPL / SMPL-H / SMPL-X parameter files (``.npz`` as in AMASS) -> 22 joint positions.

Input keys (AMASS): ``poses`` (T, 3*K) axis-angle radians, K >= 22 (72 = SMPL, 156 = SMPL-H,
165 = SMPL-X), or the SMPL-X split layout ``root_orient`` (T, 3) + ``pose_body`` (T, 63);
``trans`` (T, 3) metres; ``betas`` (B,) shape coefficients; ``mocap_framerate`` (SMPL-H) or
``mocap_frame_rate`` (SMPL-X) in Hz; ``gender`` (str or bytes). Only the root orientation and the
21 body-joint rotations (``poses[:, :66]``) move the 22 body joints; hands, jaw and eyes do not.

Conventions: a pose is applied in the body model's own frame (Y up, facing +Z, left on +X at
rest); joint j's world position is ``trans + J0 + G_parent @ (J_j - J_parent)`` chained from the
pelvis, where J are the rest joints and the pelvis rests at J0 (added unrotated, as SMPL does).
AMASS puts its Z-up world in the root orientation, so the result is returned with ``up="+z"``.

Two methods: with ``body_model_dir`` exact joints for the file's betas and gender from the
body-model file (loaded without pickle by :mod:`converters.bodymodel`; the same joints smplx
computes); without it, forward kinematics on the built-in mean-shape neutral skeleton
(:data:`converters.skeletons.T2M` ``rest``): an approximation that ignores body shape (betas).

A ``.npz`` written by m2t itself (keys ``positions`` and ``joint_names``, see
:func:`converters.api.save_motion`) is returned as it is, Y up. Files are opened with
``allow_pickle=False`` semantics through :mod:`converters.safe_npz`, which also checks every
array's declared dtype and size before reading it: m2t never unpickles motion data.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import bodymodel, limits
from .errors import ConfigError, MotionFileError
from .fileio import read_bytes
from .motion import Motion
from .rotations import A2R, forward_kinematics
from .safe_npz import SafeNpz
from .skeletons import SMPL_REST_PELVIS, T2M, T2M_JOINTS, T2M_PARENTS

N_BODY = 22                      # root + 21 body joints, the t2m joints
POSE_WIDTHS = {72: "smpl", 156: "smplh", 165: "smplx"}   # poses columns -> body model
MODEL_TYPES = ("smpl", "smplh", "smplx")
GENDERS = ("neutral", "male", "female")
FPS_KEYS = ("mocap_framerate", "mocap_frame_rate")

APPROXIMATION = "body shape (betas) ignored: mean-shape neutral SMPL skeleton"
_CHUNK = 4096                    # frames per forward-kinematics block with a body model (bounds memory)


def read(path, body_model_dir=None, gender: str | None = None, fps: float | None = None,
         model_type: str | None = None) -> Motion:
    """Read an SMPL-family ``.npz`` (or an m2t output ``.npz``) into a Motion.

    path: the file (``.npz`` or ``.npz.gz``). body_model_dir: folder holding SMPL/SMPL-H/SMPL-X
    model files (``SMPL_NEUTRAL.pkl``, ``smplh/SMPLH_MALE.npz``, ``smplh/male/model.npz``, ...);
    None uses the built-in skeleton. gender: "neutral" | "male" | "female", overrides the file's.
    fps: frame rate in Hz, overrides the file's (required when the file has none). model_type:
    "smpl" | "smplh" | "smplx", overrides the guess from the file.
    Returns positions (T, 22, 3) float32 metres on the t2m joints, ``up="+z"``, skeleton "smpl".
    Raises MotionFileError (bad file) or ConfigError (bad option, missing model file).
    """
    if gender is not None and str(gender).lower() not in GENDERS:
        raise ConfigError(f"gender must be one of {', '.join(GENDERS)}, got {gender!r}")
    if model_type is not None and str(model_type).lower() not in MODEL_TYPES:
        raise ConfigError(f"model_type must be one of {', '.join(MODEL_TYPES)}, got {model_type!r}")
    data = open_npz(path)
    if "positions" in data.files and "joint_names" in data.files:
        return _read_m2t(path, data)
    f = _smpl_fields(path, data)
    if fps is not None:
        f["fps"] = limits.check_rate(fps, "--source-fps", option=True)
    if f["fps"] is None:
        raise MotionFileError(f"{path}: no frame rate (no key {' or '.join(map(repr, FPS_KEYS))}); "
                              "give the fps option")
    gender = str(gender).lower() if gender is not None else f["gender"]
    model = str(model_type).lower() if model_type is not None else f["model"]
    meta = {"model": model or "unknown", "gender": gender, "betas": int(f["betas"].size)}
    if body_model_dir is None:
        pos = fk_builtin(f["pose"], f["trans"])
        meta.update(method="built-in rest skeleton (shape ignored)", approximation=APPROXIMATION)
    else:
        if model is None:
            raise ConfigError(f"{path}: cannot tell the body model from {f['width']} pose values per frame; "
                              f"give model_type ({', '.join(MODEL_TYPES)})")
        model_file = find_model_file(body_model_dir, model, gender)
        pos = joints_body_model(model_file, model, f["pose"], f["trans"], f["betas"])
        meta.update(method="body model file", model_file=str(model_file))
    return Motion(positions=pos, fps=f["fps"], joint_names=T2M_JOINTS, parents=T2M_PARENTS,
                  skeleton="smpl", source=str(path), up="+z", meta=meta)


# ----------------------------------------------------------------------------- file parsing

def open_npz(path) -> SafeNpz:
    return SafeNpz(read_bytes(path), path)


def _get(path, data, key) -> np.ndarray:
    return data[key]          # SafeNpz: sizes checked, pickles refused, one-line errors


def _text(a) -> str:
    """A 0-d/1-element str or bytes array (or scalar) -> stripped lower-case str."""
    v = np.asarray(a).reshape(-1)[0] if np.asarray(a).size else ""
    if isinstance(v, (bytes, np.bytes_)):
        v = bytes(v).decode("latin-1")
    return str(v).strip().lower()


def _text_keep(v) -> str:
    """str of one array element, bytes read as Latin-1 (case kept)."""
    return bytes(v).decode("latin-1") if isinstance(v, (bytes, np.bytes_)) else str(v)


def _scalar(path, data, key) -> float:
    """A numeric 0-d / 1-element key as a float; one-line error for strings, bytes, empty."""
    a = _get(path, data, key)
    if a.dtype.kind not in "fiu" or a.size < 1:
        raise MotionFileError(f"{path}: key {key!r} must be a number, got {a.dtype} {a.shape}")
    return float(a.reshape(-1)[0])


def _float_array(path, data, key, ndim_ok) -> np.ndarray:
    a = _get(path, data, key)
    if a.dtype.kind not in "fiu" or a.ndim not in ndim_ok:
        raise MotionFileError(f"{path}: key {key!r} must be a numeric array of {' or '.join(f'{n}-D' for n in ndim_ok)}"
                              f" shape, got {a.dtype} {a.shape}")
    return a.astype(np.float64)


def _smpl_fields(path, data) -> dict:
    """Validated arrays: pose (T, 66) root+body axis-angle, trans (T, 3), betas (B,), fps, gender,
    model (guess or None), width (pose values per frame in the file)."""
    keys = set(data.files)
    if "poses" in keys:
        poses = _float_array(path, data, "poses", (2, 3))
        if poses.ndim == 3:
            poses = poses.reshape(poses.shape[0], -1)
        pose_key = "poses"
    elif "root_orient" in keys or "pose_body" in keys:
        missing = [k for k in ("root_orient", "pose_body") if k not in keys]
        if missing:
            raise MotionFileError(f"{path}: missing key {missing[0]!r} (split SMPL-X layout needs "
                                  "'root_orient' and 'pose_body')")
        root = _float_array(path, data, "root_orient", (2,))
        body = _float_array(path, data, "pose_body", (2,))
        if root.shape[1:] != (3,) or body.shape[1:] != (63,) or len(root) != len(body):
            raise MotionFileError(f"{path}: 'root_orient' must be (frames, 3) and 'pose_body' (frames, 63) "
                                  f"with the same frames, got {root.shape} and {body.shape}")
        poses = np.concatenate([root, body], axis=1)
        pose_key = "root_orient/pose_body"
    else:
        found = ", ".join(sorted(keys)) or "none"
        raise MotionFileError(f"{path}: missing key 'poses' (or 'root_orient' + 'pose_body'); "
                              f"not an SMPL motion file (keys: {found})")
    if "trans" not in keys:
        raise MotionFileError(f"{path}: missing key 'trans' (root translation, frames x 3)")
    trans = _float_array(path, data, "trans", (2,))
    T, width = poses.shape
    if T == 0:
        raise MotionFileError(f"{path}: the motion has zero frames")
    limits.check_samples(T, N_BODY, path)
    if width < 3 * N_BODY or width % 3:
        raise MotionFileError(f"{path}: {pose_key!r} must have a multiple of 3 and at least {3 * N_BODY} "
                              f"values per frame (root + 21 body joints), got {width}")
    if trans.shape != (T, 3):
        raise MotionFileError(f"{path}: 'trans' must be ({T}, 3) to match {pose_key!r}, got {trans.shape}")
    for name, a in ((pose_key, poses), ("trans", trans)):
        bad = ~np.isfinite(a)
        if bad.any():
            raise MotionFileError(f"{path}, frame {int(np.argwhere(bad)[0][0])}: {name!r} is not finite (NaN or inf)")
    betas = np.zeros(0)
    if "betas" in keys:
        betas = _float_array(path, data, "betas", (1, 2))
        betas = betas[0] if betas.ndim == 2 and len(betas) else betas.reshape(-1)
        if not np.isfinite(betas).all():
            raise MotionFileError(f"{path}: 'betas' is not finite (NaN or inf)")
    fps = None
    for k in FPS_KEYS:
        if k in keys:
            fps = limits.check_rate(_scalar(path, data, k), k, path)
            break
    gender = _text(_get(path, data, "gender")) if "gender" in keys else "neutral"
    if gender not in GENDERS:
        gender = "neutral"
    model = POSE_WIDTHS.get(width)
    if "surface_model_type" in keys and _text(_get(path, data, "surface_model_type")) in MODEL_TYPES:
        model = _text(_get(path, data, "surface_model_type"))
    elif pose_key != "poses":
        model = "smplx"
    return {"pose": poses[:, :3 * N_BODY], "trans": trans, "betas": betas, "fps": fps,
            "gender": gender, "model": model, "width": width}


def _read_m2t(path, data) -> Motion:
    """An m2t output npz (see api.save_motion) -> its Motion, Y up."""
    pos = _get(path, data, "positions")
    if pos.dtype.kind not in "fiu" or pos.ndim != 3 or pos.shape[-1] != 3:
        raise MotionFileError(f"{path}: key 'positions' must be a numeric (frames, joints, 3) array, "
                              f"got {pos.dtype} {pos.shape}")
    names_a = _get(path, data, "joint_names").reshape(-1)
    if names_a.dtype.kind not in "US":
        raise MotionFileError(f"{path}: key 'joint_names' must hold strings, got {names_a.dtype}")
    names = [_text_keep(n) for n in names_a]
    if "fps" not in data.files:
        raise MotionFileError(f"{path}: m2t npz without key 'fps'")
    fps = limits.check_rate(_scalar(path, data, "fps"), "key 'fps'", path)
    parents = _get(path, data, "parents").reshape(-1) if "parents" in data.files else np.zeros(0)
    if parents.size and (parents.dtype.kind not in "iu" or len(parents) != len(names)
                         or not ((parents >= -1) & (parents < len(names))).all()):
        raise MotionFileError(f"{path}: key 'parents' must be {len(names)} integer joint indices "
                              f"(-1 for a root), got {parents.dtype} {parents.shape}")
    skeleton = _text(_get(path, data, "skeleton")) if "skeleton" in data.files else "source"
    meta = {}
    if "meta" in data.files:
        try:
            meta = json.loads(_text_keep(np.asarray(_get(path, data, "meta")).reshape(-1)[0]))
        except (ValueError, IndexError, RecursionError):
            meta = {}
    meta = dict(meta) if isinstance(meta, dict) else {}
    meta["written_by"] = "m2t"
    if "source" in data.files:
        src = np.asarray(_get(path, data, "source")).reshape(-1)
        meta["converted_from"] = _text_keep(src[0]) if src.size else ""
    return Motion(positions=np.asarray(pos), fps=fps, joint_names=tuple(names),
                  parents=tuple(int(p) for p in parents) if len(parents) == len(names) else None,
                  skeleton=skeleton, source=str(path), up="+y", meta=meta)


# ----------------------------------------------------------------------------- kinematics

def fk_builtin(pose: np.ndarray, trans: np.ndarray, rest: np.ndarray | None = None,
               pelvis: np.ndarray = SMPL_REST_PELVIS) -> np.ndarray:
    """Forward kinematics on a fixed rest skeleton (shape ignored).

    pose (T, 66) axis-angle radians (root + 21 body joints, SMPL order); trans (T, 3) metres;
    rest (22, 3) rest joints, Y up (default T2M.rest; only the bone offsets are used); pelvis (3,)
    rest pelvis in model coordinates. Returns (T, 22, 3) float64 metres in the file's world frame.
    """
    rest = T2M.rest if rest is None else np.asarray(rest, dtype=np.float64)
    T = pose.shape[0]
    R = A2R(pose.reshape(T, N_BODY, 3))
    offsets = np.array([rest[j] - rest[p] if p >= 0 else np.zeros(3) for j, p in enumerate(T2M_PARENTS)])
    root = (trans + pelvis)[:, None, :]
    return forward_kinematics(R, offsets, T2M_PARENTS, root_pos=root)


def model_file_candidates(body_model_dir, model: str, gender: str) -> list[Path]:
    """Where a model file may be: smplx's names (``SMPLH_MALE.npz``), in ``body_model_dir`` or its
    ``<model>/`` subfolder, and AMASS's ``<model>/<gender>/model.npz`` layout."""
    d = Path(body_model_dir)
    exts = ("npz", "pkl")
    names = [f"{model.upper()}_{gender.upper()}.{e}" for e in exts]
    out = [d / n for n in names] + [d / model / n for n in names]
    if model != "smpl":
        out += [d / model / gender / "model.npz", d / gender / "model.npz"]
    return out


def find_model_file(body_model_dir, model: str, gender: str) -> Path:
    """The first existing candidate file; ConfigError naming the dir and the expected names."""
    d = Path(body_model_dir)
    if not d.is_dir():
        raise ConfigError(f"{d}: body model directory not found")
    cands = model_file_candidates(d, model, gender)
    for c in cands:
        if c.is_file():
            return c
    names = ", ".join(str(c.relative_to(d)) for c in cands)
    raise ConfigError(f"{d}: no {model.upper()} {gender} body model file; expected one of: {names}")


def joints_body_model(model_file, model: str, pose: np.ndarray, trans: np.ndarray,
                      betas: np.ndarray) -> np.ndarray:
    """Exact body joints from a body-model file (loaded without pickle, converters.bodymodel).

    model_file: path to the model; model: "smpl" | "smplh" | "smplx"; pose (T, 66) root + body
    axis-angle radians; trans (T, 3) metres; betas (B,), truncated to the model's shape space.
    Returns (T, 22, 3) float64 metres in the file's world frame (what smplx's ``joints[:, :22]``
    holds for the same inputs).
    """
    bm = bodymodel.load(model_file)
    parents = [int(p) for p in bm["parents"][:N_BODY]]
    if parents[1:] != list(T2M_PARENTS[1:]):
        raise ConfigError(f"{model_file}: not an SMPL-family body model (joint tree differs)")
    J = bodymodel.rest_joints(bm, model, betas)[:N_BODY]
    out = np.empty((pose.shape[0], N_BODY, 3))
    for s in range(0, pose.shape[0], _CHUNK):
        out[s:s + _CHUNK] = fk_builtin(pose[s:s + _CHUNK], trans[s:s + _CHUNK], rest=J, pelvis=J[0])
    return out
