"""A training set plus procedural walks: the data of the default model's third fine-tune.

    python scripts/procedural_walks.py DSC2 DSC2W

Writes 48 straight walks of m2t's own generator (`converters.synthetic.walk_values`: gait 0.75,
0.85, 1.0, 1.1 Hz x 0.8, 1.0, 1.4, 1.6 m/s x 3 s at 30 fps, 4 s at 60 fps, 6 s at 24 fps; the
README's example, 0.9 Hz and 1.2 m/s, is not among them) as BVH files under DSC2W/procedural/,
builds them with `m2t dataset build` (three captions each, a mirrored copy, all in train) and
makes DSC2W the dataset DSC2 with them added to its train split. DSC2's files are linked, not
copied. Without such walks, a model whose gaits attend to the legs read the procedural walk as
"jogs in a circle" (models/weights/default/MODEL_CARD.md).
"""
from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

from m2t.converters import synthetic
from m2t.converters.bvh import write
from m2t.models.dataset_build import build_dataset

CAPTIONS = "a person walks forward|someone walks straight ahead|a person is walking forward"
RATES = {3.0: 30.0, 4.0: 60.0, 6.0: 24.0}                   # seconds -> frames per second


def write_walks(folder: Path) -> Path:
    """The BVH files and their manifest (file, caption, split) in `folder`; returns the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    names, parents, offsets, channels = synthetic.walk_rig()
    rows = ["file,caption,split"]
    for hz, speed, seconds in itertools.product((0.75, 0.85, 1.0, 1.1), (0.8, 1.0, 1.4, 1.6), RATES):
        fps = RATES[seconds]
        f = f"pw_{hz}_{speed}_{int(seconds)}.bvh"
        values = synthetic.walk_values(seconds, fps, speed_m_s=speed, step_hz=hz)
        write(folder / f, names, parents, offsets, channels, values, 1 / fps)
        rows.append(f"{f},{CAPTIONS},train")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    return folder / "manifest.csv"


def link_union(base: Path, extra: Path, out: Path) -> None:
    """`out` = the dataset `base` with `extra`'s samples added to its train split (symbolic links)."""
    for d in ("new_joints", "texts"):
        (out / d).mkdir(parents=True, exist_ok=True)
        for root in (base, extra):
            for f in sorted((root / d).iterdir()):
                (out / d / f.name).symlink_to(f.resolve())
    for name in ("segments", "val.txt", "test.txt", "compose.json"):
        if (base / name).exists():
            (out / name).symlink_to((base / name).resolve())
    (out / "train.txt").write_text((base / "train.txt").read_text() + (extra / "train.txt").read_text())


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        sys.exit(__doc__)
    base, out = Path(argv[0]), Path(argv[1])
    if out.exists():
        sys.exit(f"Error: {out} exists; give a new folder")
    manifest = write_walks(out / "procedural")
    build_dataset(out / "procedural" / "dataset", manifest=manifest)
    link_union(base, out / "procedural" / "dataset", out)
    n = sum(1 for _ in open(out / "train.txt"))
    print(f"{out}: {base} + {len(os.listdir(out / 'procedural' / 'dataset' / 'new_joints'))} procedural samples; "
          f"train {n} ids")


if __name__ == "__main__":
    main()
