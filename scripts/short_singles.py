"""Does captioning short single-action clips densely over-cut them? For the clips of a dataset
split (`m2t dataset build` output: one action each) whose length lies in (LO, HI] seconds, each
clip is captioned as `m2t caption` does with the timeline past `--dense-after` A and past HI
(i.e. one caption), and the script prints, for each, how many clips come out with more than one
action and in how many one action's word names the clip's action (a stem of its captions'
action words, `localization.key_stems`).

    python scripts/short_singles.py --model models/weights/default --dataset DS [--split test] [--lo 2 --hi 4]
"""
from __future__ import annotations

import argparse

import torch

from m2t.converters.motion import Motion
from m2t.converters.skeletons import get_skeleton
from m2t.models import data as D
from m2t.models.captioning import caption_motion
from m2t.models.checkpoint import load_bundle
from m2t.models.localization import key_stems
from m2t.models.supervision import stem


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--lo", type=float, default=2.0)
    ap.add_argument("--hi", type=float, default=4.0)
    ap.add_argument("--dense-after", type=float, default=None, help="default: --lo")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    bundle = load_bundle(args.model)
    root, _ = D.resolve_dataset(args.dataset)
    samples, _ = D.load_samples(root, D.read_split(root, args.split))
    skel = get_skeleton(bundle.cfg.skeleton)
    names, fps = skel.joint_names, skel.fps              # the dataset's frame rate (HumanML3D 20, KIT 12.5)
    sel = [s for s in samples if args.lo < s.joints.shape[0] / fps <= args.hi]
    print(f"{len(sel)} of {len(samples)} {args.split} clips last ({args.lo:g}, {args.hi:g}] s")
    for after in (args.hi, args.lo if args.dense_after is None else args.dense_after):
        multi = named = 0
        for s in sel:
            r = caption_motion(Motion(s.joints / bundle.input_scale, fps, names, skeleton=bundle.cfg.skeleton,
                                      source=s.id), bundle, dense_after_s=after)
            keys = key_stems([c.text for c in s.captions])
            multi += len(r.segments) > 1
            named += any(stem(x["word"]) in keys for x in r.segments)
        print(f"dense after {after:g} s: {multi} clips with more than one action, the clip's action named in "
              f"{named} of {len(sel)}", flush=True)


if __name__ == "__main__":
    main()
