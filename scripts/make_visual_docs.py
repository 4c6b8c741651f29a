"""Make the pictures of docs/visualise.md with m2t's own commands (run from the repository root):

    python scripts/make_visual_docs.py

1. `m2t render examples/walk.bvh -o out/docs/walk.gif` and one frame of that GIF -> docs/img/render_frame.png
2. `m2t view examples/walk.bvh -o out/docs/walk.html`, opened in headless Chromium paused at
   t = 3 s (`#t=3`) -> docs/img/viewer.png
Needs `chromium` on PATH for the screenshot (Debian: apt-get install chromium)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "out" / "docs"
IMG = REPO / "docs" / "img"
T = 3.0


def run(*args):
    print("$", " ".join(map(str, args)))
    subprocess.run(list(map(str, args)), check=True, cwd=REPO)


def main():
    IMG.mkdir(parents=True, exist_ok=True)
    walk = "examples/walk.bvh"
    run("m2t", "render", walk, "-o", OUT / "walk.gif")
    with Image.open(OUT / "walk.gif") as im:
        k = round(T * 1000 / im.info["duration"])
        im.seek(k)
        im.convert("RGB").save(IMG / "render_frame.png", optimize=True)
    run("m2t", "view", walk, "-o", OUT / "walk.html")
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chrome:
        sys.exit("chromium not found: cannot take the viewer screenshot")
    with tempfile.TemporaryDirectory() as profile:
        run(chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--hide-scrollbars", "--window-size=1000,1100",
            f"--screenshot={IMG / 'viewer.png'}", (OUT / "walk.html").resolve().as_uri() + f"#t={T:g}")
    im = Image.open(IMG / "viewer.png").convert("RGB")
    im.resize((im.width * 3 // 4, im.height * 3 // 4), Image.Resampling.LANCZOS) \
      .quantize(128, method=Image.Quantize.FASTOCTREE).save(IMG / "viewer.png", optimize=True)
    for p in ("render_frame.png", "viewer.png"):
        print(IMG / p, (IMG / p).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
