"""`m2t dataset build`: folders of labelled mocap -> a HumanML3D-format dataset.

Labels come from file names / JSON (Bandai-Namco), manifests (HDM05, CMU, Xia) or a user's CSV
manifest; captions come from label templates (`models/captions/templates.json`: several
paraphrases per label, style as adjectives or adverbs, sides kept exact) or are used as
written (CMU descriptions, a manifest's `caption` column). Output:
  OUT/new_joints/<id>.npy, OUT/texts/<id>.txt (caption#word/TAG ...#0.0#0.0),
  OUT/train.txt val.txt test.txt (stratified by label, deterministic for a seed),
  OUT/manifest.csv (id, source file, label, style, split), OUT/build.json (counts, failures).
Mirrored copies (M<id>: x negated, left/right joints and words swapped) join their original's split.
"""
from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from m2t import converters
from m2t.converters.api import check_out_dir
from m2t.converters.errors import file_error
from m2t.converters.fileio import atomic_path, write_text_atomic
from m2t.converters.skeletons import get_skeleton

from .data import MIRROR_WORDS, Sample, mirror_sample, prune_samples
from .errors import DatasetError
from .styles import TEMPLATES
from .supervision import tag
from .vocab import tokenize

SHARED_PRESETS = ("bandai1", "bandai2", "hdm05", "cmu", "xia")


@dataclass
class Entry:
    path: Path
    label: str                       # content key (templates) or "" when captions are given
    source: str                      # short source name used in ids
    style: str | None = None
    captions: list[str] | None = None   # used as written when given
    split: str | None = None         # fixed split from a manifest
    options: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        stem = re.sub(r"\.(bvh|amc|c3d|npz)(\.gz)?$", "", self.path.name, flags=re.I)
        return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{self.source}_{stem}")


# --------------------------------------------------------------------------- shared-data presets
def bandai_entries(root: Path, n: int) -> list[Entry]:
    d = root / "bandai-namco" / f"dataset-{n}"
    if not d.is_dir():
        raise DatasetError(f"{d}: Bandai-Namco dataset-{n} not found")
    cfg = {k: [ln.strip().split("_", 1)[1] for ln in (d / "cfg" / f"{k}_label.txt").read_text().splitlines() if ln.strip()]
           for k in ("content", "style")}
    out = []
    for f in sorted((d / "data").glob("*.bvh*")):
        meta = json.loads(f.with_name(re.sub(r"\.bvh(\.gz)?$", ".json", f.name)).read_text())
        out.append(Entry(f, cfg["content"][meta["content"]], f"bandai{n}", cfg["style"][meta["style"]]))
    return out


def hdm05_entries(root: Path) -> list[Entry]:
    d = root / "hdm05"
    rows = list(csv.DictReader(open(d / "MANIFEST.csv")))
    out = []
    for r in rows:
        f = d / r["file"]
        f = f if f.exists() else f.with_name(f.name + ".gz")
        out.append(Entry(f, r["hdm05_class"], "hdm05"))
    return out


# CMU's trial descriptions are notes ("Start Walk Stop", "Heiansyodan"), not captions: used as written
# they taught the model to say "start walk stop" of other takes. Sentences in the captions' style:
CMU_SENTENCES = {
    "slow walk": ["a person walks forward slowly", "someone walks slowly"],
    "run": ["a person runs forward", "someone is running forward"],
    "start walk stop": ["a person walks forward and then stops", "a person walks a few steps and stops"],
    "start hop stop": ["a person hops forward and then stops", "a person hops a few times and stops"],
    "heiansyodan": ["a person punches and kicks in a martial arts routine", "someone punches and kicks"],
}


def cmu_captions(description: str) -> list[str]:
    """Captions for a CMU trial from its description (CMU_SENTENCES; others as written)."""
    d = " ".join(description.lower().split())
    return list(CMU_SENTENCES.get(d, [d]))


def cmu_entries(root: Path) -> list[Entry]:
    out = []
    d = root / "cmu-amc"
    if d.is_dir():
        for r in csv.DictReader(open(d / "MANIFEST.csv")):
            f = d / Path(r["file"]).name
            out.append(Entry(f, "", "cmu", captions=cmu_captions(r["csv_description"]), options={"asf": d / r["asf"]}))
    d = root / "cmu-131"
    if d.is_dir():
        desc = dict(re.findall(r"^(\d+_\d+)\s+(.+)$", (d / "README.md").read_text(), re.M))
        for f in sorted(d.glob("*.bvh")):
            if f.stem in desc:
                out.append(Entry(f, "", "cmu", captions=cmu_captions(desc[f.stem])))
    return out


def xia_entries(root: Path) -> list[Entry]:
    d = root / "xia"
    return [Entry(d / Path(r["file"]).name, r["content"], "xia", r["style"])
            for r in csv.DictReader(open(d / "MANIFEST.csv"))]


def manifest_entries(path: Path) -> list[Entry]:
    """A user's CSV: `file` plus `caption` (as written; several separated by '|') or `label`
    (+ optional `style`), optional `split`. Paths are relative to the manifest."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise DatasetError(f"{path}: manifest not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DatasetError(f"{path}: cannot read the manifest ({e.__class__.__name__}: {e})") from None
    if not rows or "file" not in rows[0] or not ({"caption", "label"} & set(rows[0])):
        raise DatasetError(f"{path}: a manifest needs a 'file' column and a 'caption' or 'label' column")
    out = []
    for n, r in enumerate(rows, 2):
        caps = [c.strip() for c in (r.get("caption") or "").split("|") if c.strip()] or None
        if not caps and not r.get("label"):
            raise DatasetError(f"{path}:{n}: row has neither caption nor label")
        if not r.get("file"):
            raise DatasetError(f"{path}:{n}: row has no file")
        out.append(Entry((path.parent / r["file"]).resolve(), r.get("label") or "", "user", r.get("style") or None,
                         caps, (r.get("split") or None)))
    return out


def preset_entries(preset: str, root: Path) -> list[Entry]:
    if preset == "shared":
        return [e for p in SHARED_PRESETS for e in preset_entries(p, root)]
    funcs = {"bandai1": lambda: bandai_entries(root, 1), "bandai2": lambda: bandai_entries(root, 2),
             "hdm05": lambda: hdm05_entries(root), "cmu": lambda: cmu_entries(root), "xia": lambda: xia_entries(root)}
    if preset not in funcs:
        raise DatasetError(f"unknown preset {preset!r}; choose one of {', '.join(list(funcs) + ['shared'])}")
    return funcs[preset]()


# ------------------------------------------------------------------------------------ captions
def load_templates(path=None) -> dict:
    if path is None:
        return json.loads(TEMPLATES.read_text())
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path}: --templates file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path}: --templates is not a readable JSON file ({e.__class__.__name__}: {e})") from None


def label_captions(entry: Entry, templates: dict, rng: np.random.Generator, n: int = 3) -> list[str]:
    """Up to n distinct captions for a label: templates x (style subject | generic subject + adverb)."""
    if entry.captions:
        return list(entry.captions)
    forms = templates["contents"].get(entry.label)
    if not forms:
        raise DatasetError(f"{entry.path}: no caption template for label {entry.label!r} "
                           f"(add it to {TEMPLATES.name} or give captions in a manifest)")
    style = templates["styles"].get(entry.style or "normal", {"subjects": [], "adverbs": []})
    generic = templates["subjects"]
    options = []
    for t in forms:
        for s in style["subjects"]:
            options.append(t.format(subject=s, adverb=""))
        for a in style["adverbs"] or [""]:
            for s in generic:
                options.append(t.format(subject=s, adverb=f" {a}" if a else ""))
    options = list(dict.fromkeys(options))
    pick = rng.permutation(len(options))[:n]
    return [options[i] for i in sorted(pick)]


def tagged_line(caption: str) -> str:
    toks = tokenize(caption)
    return f"{caption}#{' '.join(f'{w}/{t}' for w, t in zip(toks, tag(toks)))}#0.0#0.0\n"


# -------------------------------------------------------------------------------------- splits
def stratified_splits(keys: list[str], labels: list[str], fractions=(0.8, 0.1, 0.1), seed: int = 0) -> dict:
    """key -> split; per label: shuffled with the seed, then cut by fractions (>= 1 test and val
    item per label when it has >= 3 items)."""
    by = defaultdict(list)
    for k, lab in zip(keys, labels):
        by[lab].append(k)
    out = {}
    for lab in sorted(by):
        ks = sorted(by[lab])
        rng = np.random.default_rng([seed, sum(map(ord, lab))])
        ks = [ks[i] for i in rng.permutation(len(ks))]
        n = len(ks)
        n_test = max(1, int(round(fractions[2] * n))) if n >= 3 else 0
        n_val = max(1, int(round(fractions[1] * n))) if n >= 3 else 0
        for i, k in enumerate(ks):
            out[k] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return out


@dataclass
class BuildReport:
    out_dir: Path
    counts: dict
    failures: list


def _preset_entries_checked(preset: str, root: Path) -> list[Entry]:
    if not root.is_dir():
        raise DatasetError(f"{root}: no such data folder for preset {preset!r} (give --data DIR or set M2T_DATA)")
    try:
        entries = preset_entries(preset, root)
    except FileNotFoundError as e:
        raise DatasetError(f"{root}: preset {preset!r} needs {e.filename}, which is missing (give --data DIR or set "
                           "M2T_DATA)") from None
    if not entries:
        raise DatasetError(f"{root}: no files of preset {preset!r} found there (give --data DIR or set M2T_DATA)")
    return entries


def check_entries(entries: list[Entry], manifest=None) -> None:
    """Refuse, before anything is written, two entries that would be one sample (the same file twice,
    or two files of one name in different folders: the second overwrote the first) and splits that
    are not train, val or test."""
    where = f"{manifest}: " if manifest else ""
    seen: dict[str, Entry] = {}
    for e in entries:
        if e.id in seen:
            a = seen[e.id].path
            why = ("the same file twice" if a == e.path else "one name in two folders" if a.name == e.path.name
                   else "names that give the same id")
            raise DatasetError(f"{where}{a} and {e.path} would both be sample {e.id!r} ({why}); rename one or "
                               "give each file once")
        seen[e.id] = e
        if e.split and e.split not in ("train", "val", "test"):
            raise DatasetError(f"{where}{e.path}: unknown split {e.split!r} (train, val or test)")


def build_dataset(out_dir, preset: str | None = None, data_root=None, manifest=None, skeleton: str = "t2m",
                  mirror: bool = True, seed: int = 0, captions_per_motion: int = 3, templates=None,
                  progress=None) -> BuildReport:
    """Convert every labelled file and write a HumanML3D-format dataset; bad files are skipped
    and listed (never abort the whole build)."""
    if bool(preset) == bool(manifest):
        raise DatasetError("give either a preset (bandai1, bandai2, hdm05, cmu, xia, shared) or --manifest FILE")
    if captions_per_motion < 1:
        raise DatasetError(f"--captions-per-motion must be >= 1, got {captions_per_motion}")
    entries = _preset_entries_checked(preset, Path(data_root)) if preset else manifest_entries(Path(manifest))
    check_entries(entries, manifest)
    tpl = load_templates(templates)
    check_out_dir(out_dir)
    skel = get_skeleton(skeleton)
    out = Path(out_dir)
    rebuild = (out / "build.json").is_file()          # an earlier build's samples go (prune_samples)
    (out / "new_joints").mkdir(parents=True, exist_ok=True)
    (out / "texts").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    done, failures = [], []
    for i, e in enumerate(entries):
        if progress:
            progress(i, len(entries), e.path)
        try:  # last-resort guard: any failure in one file is one listed line, the build goes on
            caps = label_captions(e, tpl, rng, captions_per_motion)
            m = converters.load_motion(e.path, skeleton=skeleton, **e.options)
            joints = (m.positions * skel.npy_scale).astype(np.float32)
            _save(out, e.id, joints, caps)
            if mirror:
                mir = mirror_sample(Sample(e.id, joints, []), skeleton)
                _save(out, mir.id, mir.joints, [_mirror_text(c) for c in caps])
        except Exception as err:
            failures.append(file_error(e.path, err))
            for mid in (e.id, "M" + e.id):      # no half-written sample is left behind
                (out / "new_joints" / f"{mid}.npy").unlink(missing_ok=True)
                (out / "texts" / f"{mid}.txt").unlink(missing_ok=True)
            continue
        done.append(e)
    split = {e.id: e.split for e in done if e.split}
    auto = stratified_splits([e.id for e in done if not e.split], [f"{e.source}:{e.label or e.captions[0]}"
                                                                     for e in done if not e.split], seed=seed)
    split.update(auto)
    ids = {"train": [], "val": [], "test": []}
    for e in done:
        ids[split[e.id]] += [e.id] + (["M" + e.id] if mirror else [])
    for s, lst in ids.items():
        write_text_atomic(out / f"{s}.txt", "".join(i + "\n" for i in lst))
    if rebuild:
        prune_samples(out, [i for lst in ids.values() for i in lst])
    rows = ["id,file,label,style,split\n"] + [f"{e.id},{e.path},{e.label},{e.style or ''},{split[e.id]}\n" for e in done]
    write_text_atomic(out / "manifest.csv", "".join(rows))
    counts = {"motions": len(done), "mirrored": len(done) if mirror else 0, "failed": len(failures),
              **{f"{s}_ids": len(v) for s, v in ids.items()},
              "by_source": {src: sum(e.source == src for e in done) for src in sorted({e.source for e in done})}}
    write_text_atomic(out / "build.json", json.dumps({"preset": preset, "manifest": str(manifest) if manifest else None,
                                                      "skeleton": skeleton, "seed": seed, "counts": counts,
                                                      "failures": failures}, indent=1))
    return BuildReport(out, counts, failures)


def _mirror_text(caption: str) -> str:
    return re.sub(r"[A-Za-z]+", lambda m: MIRROR_WORDS.get(m.group(0).lower(), m.group(0)), caption)


def _save(out: Path, mid: str, joints: np.ndarray, captions: list[str]) -> None:
    with atomic_path(out / "new_joints" / f"{mid}.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, joints)
    write_text_atomic(out / "texts" / f"{mid}.txt", "".join(tagged_line(c) for c in captions))
