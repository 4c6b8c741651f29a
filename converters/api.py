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
from .batch import Manifest, check_jobs, run_tasks, select_shard, settings_digest
from .errors import ConfigError, MotionFileError, UnsupportedFormatError, file_error
from .fileio import atomic_path, format_suffix, strip_gz
from .motion import Motion
from .skeletons import get_skeleton

# extension (without .gz) -> module in this package exposing read(path, **options) -> Motion
READERS = {".bvh": "bvh", ".amc": "asfamc", ".c3d": "c3d", ".npz": "smpl", ".npy": "hml3d_npy"}
FORMAT_NAMES = {".bvh": "BVH", ".amc": "ASF/AMC", ".c3d": "C3D", ".npz": "SMPL-family npz",
                ".npy": "HumanML3D npy (joints or 263-d vectors)"}
# what `convert` writes: m2t = <stem>.npy (new_joints layout) + <stem>.npz; hml3d-vecs = <stem>.npy
# holding 263-d vectors; hml3d = new_joints/<stem>.npy + new_joint_vecs/<stem>.npy (HumanML3D's tree)
OUTPUT_FORMATS = ("m2t", "hml3d-vecs", "hml3d")


def is_motion_file(path) -> bool:
    return format_suffix(path) in READERS


FORMAT_OPTIONS = {"asf": ".amc", "subject": ".c3d", "body_model_dir": ".npz (SMPL)", "gender": ".npz (SMPL)"}
_TOLD: set = set()                                     # (option, suffix) already warned about


def read_motion(path, **options) -> Motion:
    """Read any supported file on its own skeleton, positions in metres.

    Options are passed to the format's reader when it accepts them (e.g. ``units`` for BVH,
    ASF/AMC and C3D, ``asf`` for AMC, ``body_model_dir`` and ``gender`` for SMPL, ``subject`` for
    C3D); options a reader does not take are ignored, so one call works for a folder of mixed
    formats. ``source_fps`` sets the frame rate of every format (for a missing or wrong one).
    """
    from .timing import check_rate, with_source_fps
    suffix = format_suffix(path)
    if not Path(path).exists():
        raise MotionFileError(f"{path}: no such file")
    if Path(path).is_dir():
        raise MotionFileError(f"{path}: is a folder; this command takes one file")
    if suffix not in READERS:
        known = ", ".join(sorted(READERS) + [".gz"])
        raise UnsupportedFormatError(f"{path}: unknown file type {suffix or '(no extension)'!r}; m2t reads {known}")
    module = importlib.import_module(f"{__package__}.{READERS[suffix]}")
    accepted = inspect.signature(module.read).parameters
    for opt, where in FORMAT_OPTIONS.items():          # once per option and file type in a process
        if options.get(opt) is not None and opt not in accepted and (opt, suffix) not in _TOLD:
            _TOLD.add((opt, suffix))
            warnings.warn(f"--{opt.replace('_', '-')} applies to {where} files; ignored for {suffix} files",
                          stacklevel=2)
    source_fps = check_rate(options.pop("source_fps", None))
    kwargs = {k: v for k, v in options.items() if k in accepted and k != "fps" and v is not None}
    if source_fps and "fps" in accepted:
        kwargs["fps"] = source_fps
    m = module.read(path, **kwargs)
    return with_source_fps(m, source_fps) if source_fps and "fps" not in accepted else m


def load_motion(path, skeleton: str = "t2m", fps: float | None = None, joint_map=None,
                up: str | None = None, keep_proportions: bool = False, start: float | None = None,
                end: float | None = None, keep_lead_in: bool = False, **options) -> Motion:
    """Read a file and return it on a canonical skeleton in HumanML3D's frame.

    skeleton: "t2m" (22 joints, 20 fps) or "kit" (21 joints, 12.5 fps); fps: output rate (default
    the skeleton's dataset rate); joint_map: a mapping file or dict overriding the automatic joint
    matching; up: the source up axis ("+y", "+z", ...), detected when None; keep_proportions: keep
    the performer's bone lengths instead of retargeting onto the canonical body (converters/body.py);
    start / end: keep only this part (seconds of the source file); keep_lead_in: keep leading
    bind-pose frames (dropped by default, converters/timing.py). The result's ``time_offset_s`` is
    the source time of its frame 0. Warnings (implausible stature, dropped lead-in) are emitted and
    listed in ``meta["warnings"]``.
    """
    from .body import stature_m, stature_warning, warn
    from .canonical import canonicalize
    from .retarget import retarget
    from .timing import drop_lead_in, trim
    from .c3d_subjects import check_one
    raw = read_motion(path, **options)
    check_one(raw.meta, path)
    on_skel = trim(retarget(raw, skeleton, joint_map=joint_map), start, end)
    meta = {**on_skel.meta, "warnings": list(on_skel.meta.get("warnings", []))}
    on_skel = on_skel.with_(meta=meta)
    if not keep_lead_in and start is None:
        on_skel = drop_lead_in(on_skel)
    meta = on_skel.meta
    stature = stature_m(on_skel.positions, get_skeleton(skeleton))
    meta["stature_m"] = round(stature, 3)
    msg = stature_warning(stature, str(path), raw.meta.get("units"), raw.meta.get("units_from"))
    if msg:
        warn(meta, msg)
    meta["time_offset_s"] = round(on_skel.time_offset_s, 6)
    return canonicalize(on_skel, fps=fps, up=up or raw.up, keep_proportions=keep_proportions)


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
                     time_offset_s=np.float64(motion.time_offset_s),
                     units=np.array("m"), meta=np.array(json.dumps(meta)))
        written.append(dest)
    return written


def _jsonable(v) -> bool:
    try:
        json.dumps(v)
        return True
    except TypeError:
        return False


RESUMED = "already converted (--resume)"          # ConvertResult.note of a file a resumed run skips


@dataclass
class ConvertResult:
    source: Path
    outputs: list[Path]
    error: str | None = None
    skipped: bool = False
    note: str = ""                   # why it was skipped

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
            names = {str(p) for p in files}
            out += [(p, p.relative_to(item)) for p in sorted(files) if is_motion_file(p)
                    and not _m2t_pair(p, names)]
        else:
            out.append((item, Path(item.name)))
    return out


def _m2t_pair(p: Path, names: set[str]) -> bool:
    """A folder's `walk.npy` beside `walk.npz` is m2t's own output pair: only the .npz (which
    holds the metadata) is taken, so a converted folder gives one motion per clip."""
    return format_suffix(p) == ".npy" and str(p.with_name(strip_gz(p.name)[:-4] + ".npz")) in names


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
    """The output folder; ConfigError when it is a file or cannot be written or created. A missing
    folder is not created here but by the first output written into it (a run whose every file
    failed left an empty folder behind)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: output must be a folder, but it is a file")
    base = out
    while not base.exists() and base != base.parent:
        if base.is_symlink():
            raise ConfigError(f"{out}: cannot create the output folder ({base} is a link to nothing)")
        base = base.parent
    if base != out and not base.is_dir():
        raise ConfigError(f"{out}: cannot create the output folder ({base} is a file)")
    if not os.access(base, os.W_OK | os.X_OK):
        raise ConfigError(f"{out}: output folder is not writable" if base == out else
                          f"{out}: cannot create the output folder ({base} is not writable)")
    return out


def check_unique_stems(files, out_dir, verb: str = "convert") -> dict:
    """{file: output stem}; ConfigError when two inputs would write the same outputs."""
    seen, stems = {}, {}
    for path, rel in files:
        stem = output_stem(rel, out_dir)
        if stem in seen:
            raise ConfigError(f"{seen[stem]} and {path} would both write {stem}.*; {verb} them separately")
        seen[stem], stems[path] = path, stem
    return stems


def output_stem(rel: Path, out_dir) -> Path:
    return Path(out_dir) / rel.parent / Path(strip_gz(rel)).stem


def output_paths(rel: Path, out_dir, fmt: str = "m2t") -> list[Path]:
    """The files `convert` writes for one input (see OUTPUT_FORMATS)."""
    if fmt not in OUTPUT_FORMATS:
        raise ConfigError(f"--format {fmt!r} is not one of: {', '.join(OUTPUT_FORMATS)}")
    name = Path(strip_gz(rel)).stem + ".npy"
    if fmt == "hml3d":
        return [Path(out_dir) / sub / rel.parent / name for sub in ("new_joints", "new_joint_vecs")]
    stem = output_stem(rel, out_dir)
    return [stem.with_name(stem.name + ".npy")] + ([stem.with_name(stem.name + ".npz")] if fmt == "m2t" else [])


def save_as(motion: Motion, paths: list[Path], fmt: str = "m2t", want: list[bool] | None = None) -> list[Path]:
    """Write one converted motion in an output format to the paths of :func:`output_paths`
    (only those whose `want` is true)."""
    want = want or [True] * len(paths)
    if fmt == "m2t":
        return save_motion(motion, paths[0].with_suffix(""), npy=want[0], npz=want[1])
    from .hml3d_vecs import joints_to_vecs, vecs_to_joints
    if motion.skeleton != "t2m":
        raise ConfigError(f"--format {fmt}: HumanML3D's 263-d vectors are defined for the t2m skeleton, "
                          f"not {motion.skeleton}")
    vecs = joints_to_vecs(motion.positions)
    arrays = [vecs] if fmt == "hml3d-vecs" else [vecs_to_joints(vecs), vecs]
    for dest, a, w in zip(paths, arrays, want):
        if not w:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dest) as tmp, open(tmp, "wb") as f:
            np.save(f, a.astype(np.float32))
    return [p for p, w in zip(paths, want) if w]


def convert(inputs, out_dir="out", skeleton: str = "t2m", fps: float | None = None, recursive: bool = False,
            joint_map=None, up: str | None = None, keep_proportions: bool = False, overwrite: bool = True,
            progress=None, jobs: int = 1, shard=None, resume: bool = False, fmt: str = "m2t", manifest=None,
            **options) -> list[ConvertResult]:
    """Convert files and folders; never stops at a bad file.

    Returns one :class:`ConvertResult` per input file (``error`` holds the one-line message of a
    file that failed). ``progress(i, n, path)`` is called as files finish when given. Outputs
    mirror the input tree under ``out_dir``: ``a/b/walk.bvh`` -> ``out/a/b/walk.npy`` + ``.npz``;
    ``fmt`` is one of OUTPUT_FORMATS. ``jobs`` > 1 converts in that many worker processes;
    ``shard`` "i/N" keeps the i-th of N round-robin shards of the sorted inputs; every converted
    file is recorded in the folder's done-manifest and ``resume`` skips the ones recorded there
    (converters.batch). ``manifest``: a CSV (path, fps, start, end, subject; converters/timing.py)
    with settings per file, which override the call's options.
    """
    from .timing import read_manifest
    get_skeleton(skeleton)  # fail early on a bad --skeleton
    check_jobs(jobs)
    output_paths(Path("x"), out_dir, fmt)
    if fmt != "m2t" and skeleton != "t2m":
        raise ConfigError(f"--format {fmt} needs --skeleton t2m (HumanML3D's 263-d vectors are t2m only)")
    if fps is not None:
        fps = limits.check_rate(fps, "--fps", option=True)
    if options.get("source_fps") is not None:
        limits.check_rate(options["source_fps"], "--source-fps", option=True)
    per_file = read_manifest(manifest) if manifest else {}
    all_files = collect_inputs(inputs, recursive)
    unused = set(per_file) - {p.resolve() for p, _ in all_files}
    if unused:
        raise ConfigError(f"{manifest}: lists file(s) not among the inputs: "
                          f"{', '.join(sorted(str(u) for u in unused)[:5])}")
    files = select_shard(all_files, shard)
    if not files:
        raise ConfigError(f"no motion files found in {', '.join(map(str, inputs))}"
                          + ("" if recursive else " (use --recursive for sub-folders)")
                          + (f" for shard {shard}" if shard else ""))
    check_unique_stems(files, out_dir)
    check_out_dir(out_dir)
    done_list = Manifest(out_dir, shard)
    results: list[ConvertResult | None] = [None] * len(files)
    todo = []
    kw = dict(skeleton=skeleton, fps=fps, joint_map=joint_map, up=up, keep_proportions=keep_proportions, **options)
    file_kw = [{**kw, **per_file.get(path.resolve(), {})} for path, _ in files]
    digests = [settings_digest({"fmt": fmt, **k}) for k in file_kw]
    for i, (path, rel) in enumerate(files):
        paths = output_paths(rel, out_dir, fmt)
        want = [overwrite or not p.exists() for p in paths]
        if resume and done_list.is_done(path, rel, digests[i]):
            results[i] = ConvertResult(path, [], skipped=True, note=RESUMED)
        elif not any(want):
            results[i] = ConvertResult(path, [], skipped=True, note="output exists (use --overwrite)")
        else:
            todo.append((i, path, paths, want))
    tasks = [(path, paths, want, fmt, file_kw[i]) for i, path, paths, want in todo]
    done = len(files) - len(todo)
    for k, res in run_tasks(_convert_one, tasks, jobs, on_error=_worker_failed):
        i = todo[k][0]
        results[i] = res
        if res.ok and (len(files) > 1 or shard or resume):     # one-file runs leave no manifest
            done_list.add(res.source, files[i][1], res.outputs, digests[i])
        done += 1
        if progress:
            progress(done, len(files), res.source)
    return results


def _worker_failed(task, exc) -> ConvertResult:
    return ConvertResult(task[0], [], error=file_error(task[0], exc))


def _convert_one(task) -> ConvertResult:
    """One file (runs in a worker process when jobs > 1)."""
    path, paths, want, fmt, kw = task
    try:  # the last-resort guard: whatever goes wrong in one file is one line, the run goes on
        m = load_motion(path, **kw)
        return ConvertResult(path, save_as(m, paths, fmt, want))
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
    if raw.time_offset_s:
        d["time_offset_s"] = round(raw.time_offset_s, 6)
    if len(raw.meta.get("subjects") or {}) > 1 and not raw.meta.get("subject"):
        d.update({"rig": "several subjects", "unmapped": list(get_skeleton("t2m").joint_names),
                  "ambiguous": [f"{len(raw.meta['subjects'])} subjects; choose one with --subject NAME"]})
        return d
    d.update(match_report(raw))
    if not d["unmapped"]:
        d.update(_body_report(raw))
    return d


def _body_report(raw: Motion) -> dict:
    """Stature (with its warning) and a bind-pose lead-in, as load_motion would find them."""
    from .body import stature_m, stature_warning
    from .retarget import retarget
    from .timing import find_lead_in
    try:
        on = retarget(raw)
    except M2TError:
        return {}
    out: dict = {"stature_m": round(stature_m(on.positions, get_skeleton("t2m")), 3)}
    warns = list(raw.meta.get("warnings", []))
    msg = stature_warning(out["stature_m"], raw.source, raw.meta.get("units"), raw.meta.get("units_from"))
    if msg:
        warns.append(msg)
    lead = find_lead_in(on)
    if lead:
        out["lead_in_frames"] = lead[0]
        warns.append(lead[1])
    if warns:
        out["warnings"] = warns
    return out
