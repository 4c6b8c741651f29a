"""The converters' public functions; the CLI commands `convert` and `info` wrap these."""
from __future__ import annotations

import importlib
import inspect
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import limits
from .batch import Manifest, check_jobs, run_tasks, select_shard
from .errors import ConfigError, UnsupportedFormatError, file_error
from .fileio import atomic_path, format_suffix, strip_gz
from .motion import Motion
from .skeletons import get_skeleton

# extension (without .gz) -> module in this package exposing read(path, **options) -> Motion
READERS = {".bvh": "bvh", ".amc": "asfamc", ".c3d": "c3d", ".npz": "smpl"}
FORMAT_NAMES = {".bvh": "BVH", ".amc": "ASF/AMC", ".c3d": "C3D", ".npz": "SMPL-family npz"}


def is_motion_file(path) -> bool:
    return format_suffix(path) in READERS


def read_motion(path, **options) -> Motion:
    """Read any supported file on its own skeleton, positions in metres.

    Options are passed to the format's reader when it accepts them (e.g. ``units`` for BVH,
    ASF/AMC and C3D, ``asf`` for AMC, ``body_model_dir`` and ``gender`` for SMPL, ``source_fps`` for
    formats whose rate is missing or wrong: AMC, SMPL npz); options a reader does not take are
    ignored, so one call works for a folder of mixed formats.
    """
    suffix = format_suffix(path)
    if suffix not in READERS:
        known = ", ".join(sorted(READERS) + [".gz"])
        raise UnsupportedFormatError(f"{path}: unknown file type {suffix or '(no extension)'!r}; m2t reads {known}")
    module = importlib.import_module(f"{__package__}.{READERS[suffix]}")
    accepted = inspect.signature(module.read).parameters
    if "source_fps" in options:
        options = {**options, "fps": options.pop("source_fps")}
    if options.get("fps") is not None:
        options["fps"] = limits.check_rate(options["fps"], "--source-fps", option=True)
    kwargs = {k: v for k, v in options.items() if k in accepted and v is not None}
    return module.read(path, **kwargs)


def load_motion(path, skeleton: str = "t2m", fps: float | None = None, joint_map=None,
                up: str | None = None, uniform_bones: bool = False, **options) -> Motion:
    """Read a file and return it on a canonical skeleton in HumanML3D's frame.

    skeleton: "t2m" (22 joints, 20 fps) or "kit" (21 joints, 12.5 fps); fps: output rate (default
    the skeleton's dataset rate); joint_map: a mapping file or dict overriding the automatic joint
    matching; up: the source up axis ("+y", "+z", ...), detected when None; uniform_bones: rescale
    bones to the reference skeleton's lengths.
    """
    from .canonical import canonicalize
    from .retarget import retarget
    raw = read_motion(path, **options)
    on_skel = retarget(raw, skeleton, joint_map=joint_map)
    return canonicalize(on_skel, fps=fps, up=up or raw.up, uniform_bones=uniform_bones)


def save_motion(motion: Motion, stem, npy: bool = True, npz: bool = True) -> list[Path]:
    """Write ``<stem>.npy`` (HumanML3D ``new_joints`` layout: (T, J, 3) float32 in the dataset's
    units, metres for t2m and millimetres for kit) and ``<stem>.npz`` (positions and velocities in
    metres plus metadata). Each file is written to a temporary name and renamed when complete."""
    stem = Path(stem)
    written = []
    if npy:
        scale = get_skeleton(motion.skeleton).npy_scale if motion.skeleton in ("t2m", "kit") else 1.0
        dest = stem.with_name(stem.name + ".npy")
        with atomic_path(dest) as tmp, open(tmp, "wb") as f:
            np.save(f, (motion.positions * scale).astype(np.float32))
        written.append(dest)
    if npz:
        dest = stem.with_name(stem.name + ".npz")
        meta = {k: v for k, v in motion.meta.items() if _jsonable(v)}
        with atomic_path(dest) as tmp, open(tmp, "wb") as f:
            np.savez(f, positions=motion.positions, velocities=motion.velocities.astype(np.float32),
                     fps=np.float32(motion.fps), joint_names=np.array(motion.joint_names),
                     parents=np.array(motion.parents if motion.parents is not None else [], dtype=np.int64),
                     skeleton=np.array(motion.skeleton), source=np.array(str(motion.source)),
                     units=np.array("m"), meta=np.array(json.dumps(meta)))
        written.append(dest)
    return written


def _jsonable(v) -> bool:
    try:
        json.dumps(v)
        return True
    except TypeError:
        return False


@dataclass
class ConvertResult:
    source: Path
    outputs: list[Path]
    error: str | None = None
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def collect_inputs(inputs, recursive: bool = False) -> list[tuple[Path, Path]]:
    """Expand files and folders into (file, path relative to its input root) pairs, sorted.

    With ``recursive`` symlinked sub-folders are followed; one that leads back into a folder
    already being walked (a loop) is skipped with a warning."""
    out = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            files = _walk(item) if recursive else [p for p in item.iterdir() if p.is_file()]
            out += [(p, p.relative_to(item)) for p in sorted(files) if is_motion_file(p)]
        else:
            out.append((item, Path(item.name)))
    return out


def _walk(root: Path) -> list[Path]:
    files, stack = [], [(root, frozenset([os.path.realpath(root)]))]
    while stack:
        d, ancestors = stack.pop()
        try:
            entries = sorted(d.iterdir())
        except OSError as e:
            warnings.warn(f"{d}: cannot list folder ({e.strerror or e}); skipped", stacklevel=3)
            continue
        for p in entries:
            if p.is_dir():
                real = os.path.realpath(p)
                if real in ancestors:
                    warnings.warn(f"{p}: symlink loop back to {real}; not followed", stacklevel=3)
                    continue
                stack.append((p, ancestors | {real}))
            elif p.is_file():
                files.append(p)
    return files


def check_out_dir(out_dir) -> Path:
    """The output folder, created if missing; ConfigError when it is a file or cannot be written."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: output must be a folder, but it is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{out}: cannot create the output folder ({e.strerror or e})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ConfigError(f"{out}: output folder is not writable")
    return out


def check_unique_stems(files, out_dir, verb: str = "convert") -> dict:
    """{file: output stem}; ConfigError when two inputs would write the same outputs."""
    seen, stems = {}, {}
    for path, rel in files:
        stem = output_stem(rel, out_dir)
        if stem in seen:
            raise ConfigError(f"{seen[stem]} and {path} would both write {stem}.*; {verb} them separately")
        seen[stem] = stems[path] = stem
    return stems


def output_stem(rel: Path, out_dir) -> Path:
    return Path(out_dir) / rel.parent / Path(strip_gz(rel)).stem


def convert(inputs, out_dir="out", skeleton: str = "t2m", fps: float | None = None, recursive: bool = False,
            joint_map=None, up: str | None = None, uniform_bones: bool = False, overwrite: bool = True,
            progress=None, jobs: int = 1, shard=None, resume: bool = False, **options) -> list[ConvertResult]:
    """Convert files and folders; never stops at a bad file.

    Returns one :class:`ConvertResult` per input file (``error`` holds the one-line message of a
    file that failed). ``progress(i, n, path)`` is called as files finish when given. Outputs
    mirror the input tree under ``out_dir``: ``a/b/walk.bvh`` -> ``out/a/b/walk.npy`` + ``.npz``.
    ``jobs`` > 1 converts in that many worker processes; ``shard`` "i/N" keeps the i-th of N
    round-robin shards of the sorted inputs; every converted file is recorded in the folder's
    done-manifest and ``resume`` skips the ones recorded there (converters.batch).
    """
    get_skeleton(skeleton)  # fail early on a bad --skeleton
    check_jobs(jobs)
    if fps is not None:
        fps = limits.check_rate(fps, "--fps", option=True)
    if options.get("source_fps") is not None:
        limits.check_rate(options["source_fps"], "--source-fps", option=True)
    files = select_shard(collect_inputs(inputs, recursive), shard)
    if not files:
        raise ConfigError(f"no motion files found in {', '.join(map(str, inputs))}"
                          + ("" if recursive else " (use --recursive for sub-folders)")
                          + (f" for shard {shard}" if shard else ""))
    stems = check_unique_stems(files, out_dir)
    check_out_dir(out_dir)
    manifest = Manifest(out_dir, shard)
    results: list[ConvertResult | None] = [None] * len(files)
    todo = []
    for i, (path, rel) in enumerate(files):
        stem = stems[path]
        want = {ext: overwrite or not stem.with_name(stem.name + ext).exists() for ext in (".npy", ".npz")}
        if (resume and manifest.is_done(path, rel)) or not any(want.values()):
            results[i] = ConvertResult(path, [], skipped=True)
        else:
            todo.append((i, path, stem, want))
    kw = dict(skeleton=skeleton, fps=fps, joint_map=joint_map, up=up, uniform_bones=uniform_bones, **options)
    done = len(files) - len(todo)
    for k, res in run_tasks(_convert_one, [(path, stem, want, kw) for _, path, stem, want in todo], jobs,
                            on_error=_worker_failed):
        i = todo[k][0]
        results[i] = res
        if res.ok and (len(files) > 1 or shard or resume):     # one-file runs leave no manifest
            manifest.add(res.source, files[i][1], res.outputs)
        done += 1
        if progress:
            progress(done, len(files), res.source)
    return results


def _worker_failed(task, exc) -> ConvertResult:
    return ConvertResult(task[0], [], error=file_error(task[0], exc))


def _convert_one(task) -> ConvertResult:
    """One file (runs in a worker process when jobs > 1)."""
    path, stem, want, kw = task
    try:  # the last-resort guard: whatever goes wrong in one file is one line, the run goes on
        m = load_motion(path, **kw)
        return ConvertResult(path, save_motion(m, stem, npy=want[".npy"], npz=want[".npz"]))
    except Exception as e:  # noqa: BLE001
        return ConvertResult(path, [], error=file_error(path, e))


def info(path, **options) -> dict:
    """Facts about one file: format, frames, fps, duration, joints, detected rig and mapping, units."""
    from .retarget import match_report
    raw = read_motion(path, **options)
    d = {
        "file": str(path),
        "format": FORMAT_NAMES[format_suffix(path)],
        "frames": raw.n_frames,
        "fps": round(raw.fps, 4),
        "duration_s": round(raw.duration_s, 3),
        "joints": raw.n_joints,
        "joint_names": list(raw.joint_names),
        "up": raw.up or "detect",
    }
    d.update({k: v for k, v in raw.meta.items() if _jsonable(v)})
    d.update(match_report(raw))
    return d
