"""Regenerate examples/ with m2t's own writers (nothing is copied from any dataset).

    python scripts/make_examples.py
"""
from pathlib import Path

from m2t.converters.synthetic import write_walk_bvh

if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "examples"
    write_walk_bvh(out / "walk.bvh", seconds=5.0, fps=30.0)
    print(f"wrote {out / 'walk.bvh'}")
