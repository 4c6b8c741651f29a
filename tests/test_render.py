"""`m2t render` and models.render/models.scene: frame count, duration, frames that change, a
reference frame, the active-word rule, and the CLI's errors and folders.

The reference frame uses a hand-made CaptionResult (fixed windows and attention) on the procedural
walk, so it tests the drawing, not the model. Regenerate it after a deliberate change of the
picture with `M2T_UPDATE_REFERENCE=1 pytest tests/test_render.py -k reference`."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from m2t.cli.app import app
from m2t.converters import load_motion
from m2t.converters.errors import ConfigError
from m2t.converters.synthetic import write_walk_bvh
from m2t.models import render, scene
from m2t.models.results import CaptionResult, Token

REF = Path(__file__).parent / "data" / "render_reference.png"
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    p = tmp_path_factory.mktemp("walk") / "walk.bvh"
    write_walk_bvh(p, seconds=2.0)
    return p


def fake_result(motion, source="walk.bvh") -> CaptionResult:
    """'a person walks forward': two motion words with fixed Gaussian windows and attention."""
    ds, fps = 2, motion.fps
    n = len(range(ds // 2, motion.n_frames, ds))
    k = np.arange(n)
    ft = (ds // 2 + k * ds) / fps
    words = [("a", False, 0, 0), ("person", False, 0, 0), ("walks", True, 0.3 * n, 0.15 * n),
             ("forward", True, 0.7 * n, 0.12 * n)]
    window = np.stack([np.exp(-(k - m) ** 2 / (2 * s ** 2)) if s else np.full(n, 0.1) for _, _, m, s in words])
    alpha = np.zeros((len(words), n, 6))
    alpha[:] = [0.05, 0.05, 0.05, 0.05, 0.6, 0.2]                 # mostly the left leg
    alpha[3] = [0.7, 0.1, 0.05, 0.05, 0.05, 0.05]                 # "forward": the root
    tokens = []
    for i, (w, motion_word, m, s) in enumerate(words):
        t = Token(i, w, 0.9 if motion_word else 0.1, 0.9, motion_word)
        if motion_word:
            a, b = max(0.0, m - 1.1774 * s), min(n - 1.0, m + 1.1774 * s)
            t.centre_frame, t.width_frames = m, s
            t.centre_s = (ds // 2 + m * ds) / fps
            t.onset_s, t.offset_s = (ds // 2 + a * ds) / fps, (ds // 2 + b * ds) / fps
            t.parts = [("left_leg", 0.6)]
        tokens.append(t)
    return CaptionResult(source=source, text=" ".join(w for w, *_ in words), tokens=tokens, score=-0.1,
                         duration_s=motion.n_frames / fps, fps=fps, frames=motion.n_frames, downsample=ds,
                         onset_rule="fwhm", beam=1, skeleton="t2m", frame_times=ft.astype(np.float32),
                         window=window.astype(np.float32), alpha=alpha.astype(np.float32))


@pytest.fixture(scope="module")
def clip(walk):
    m = load_motion(walk)
    return m, fake_result(m)


# ----------------------------------------------------------------------------- scene rules
def test_timeline_picks_the_highest_window_inside_its_span(clip):
    m, r = clip
    times = np.linspace(0, r.duration_s, 81)
    tl = scene.timeline(r, times)
    walks, fwd = r.tokens[2], r.tokens[3]
    for t, a, s in zip(times, tl.active, tl.strength):
        inside = [w for w in (walks, fwd) if w.onset_s <= t <= w.offset_s]
        if not inside:
            assert a == -1 and s == 0
            continue
        g = {w.index: np.interp(t, r.frame_times, r.window[w.index]) for w in inside}
        assert a == max(g, key=g.get) and s == pytest.approx(max(g.values())) and s >= 0.5 - 1e-6
    on = tl.active == 3
    assert on.any() and np.allclose(tl.alpha[on, 0], 0.7, atol=1e-6)


def test_gif_durations_sum_to_the_clip():
    for n, fps in ((100, 20.0), (37, 12.5), (90, 30.0), (7, 7.0)):
        d = render.gif_durations(n, fps)
        assert len(d) == n and all(x % 10 == 0 and x >= 10 for x in d)
        assert abs(sum(d) - 1000 * n / fps) <= 5


@pytest.mark.parametrize("size, fragment", [("12x12", "160..2000"), ("abc", "WIDTHxHEIGHT"), ("480x", None)])
def test_parse_size(size, fragment):
    if fragment is None:
        assert render.parse_size(size) == (480, 480)
        return
    with pytest.raises(ConfigError, match=fragment):
        render.parse_size(size)


# ----------------------------------------------------------------------------- files
def test_gif_frame_count_duration_and_change(clip, tmp_path):
    m, r = clip
    info = render.render_clip(m, r, tmp_path / "a.gif", size=(200, 200))
    assert info.frames == round(r.duration_s * m.fps) == 40 and info.duration_s == pytest.approx(2.0)
    with Image.open(tmp_path / "a.gif") as im:
        assert im.size == (200, 200) and im.n_frames == 40
        durs, frames = [], []
        for i in range(im.n_frames):
            im.seek(i)
            durs.append(im.info["duration"])
            frames.append(np.asarray(im.convert("RGB"), np.int16))
    assert sum(durs) == pytest.approx(2000, abs=10)
    diffs = [np.abs(a - b).mean() for a, b in zip(frames, frames[1:])]
    assert min(diffs) > 0.05                                   # every frame moves (the walk, the playhead)
    info = render.render_clip(m, r, tmp_path / "b.gif", size=(160, 200), fps=10)
    with Image.open(tmp_path / "b.gif") as im:
        assert im.size == (160, 200) and im.n_frames == info.frames == 20


def test_mp4_frame_count(clip, tmp_path):
    import imageio_ffmpeg
    m, r = clip
    info = render.render_clip(m, r, tmp_path / "a.mp4", size=(240, 200), fps=10)
    n, secs = imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "a.mp4"))
    assert n == info.frames == 20 and secs == pytest.approx(2.0, abs=0.11)
    assert not list(tmp_path.glob(".*part"))


def test_attention_colours_the_attended_part(clip):
    m, r = clip
    t = r.tokens[2].centre_s                                  # "walks": left leg α = 0.6
    tl = scene.timeline(r, [t])
    rend = render.Renderer(m.positions, m.fps, "t2m", r, (320, 320))
    col, att = rend._colours(tl, 0)
    left_leg = scene.joint_parts("t2m") == 4
    assert att[left_leg].min() > att[~left_leg].max()
    assert col[left_leg][:, 0].mean() > 200                   # red-orange
    plain = render.Renderer(m.positions, m.fps, "t2m", r, (320, 320), attention=False)
    assert not plain._colours(tl, 0)[1].any()
    arms = np.isin(scene.joint_parts("t2m"), [2, 3])           # a file without arm data: arms fade out
    part = render.Renderer(m.positions, m.fps, "t2m", r, (320, 320), observed=~arms)
    faded = part._colours(tl, 0)[0]
    assert np.allclose(faded[~arms], col[~arms])
    assert (np.abs(faded[arms] - render.BG).sum(-1) < np.abs(col[arms] - render.BG).sum(-1) / 2).all()


def test_reference_frame(clip, tmp_path):
    m, r = clip
    frames = render.render_frames(m, r, size=(160, 160), fps=4)
    img = [f for i, f in enumerate(frames) if i == 2][0]     # t = 0.5 s: "walks" is active
    img.save(tmp_path / "frame.png")
    if os.environ.get("M2T_UPDATE_REFERENCE"):
        REF.parent.mkdir(exist_ok=True)
        img.save(REF, optimize=True)
    ref = np.asarray(Image.open(REF).convert("RGB"), np.int16)
    got = np.asarray(img, np.int16)
    assert got.shape == ref.shape
    diff = np.abs(got - ref).max(-1)
    assert diff.mean() < 2.0 and (diff > 60).mean() < 0.01, \
        f"frame differs from {REF} (mean {diff.mean():.2f}, {100 * (diff > 60).mean():.2f}% pixels); see {tmp_path}"


# ----------------------------------------------------------------------------- CLI
def test_cli_render_file_and_folder(walk, tmp_path):
    r = invoke("render", walk, "-o", tmp_path / "one.gif", "--size", "160x160", "--fps", "5")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "one.gif").is_file() and "10 frames, 2.00 s" in r.stdout
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    write_walk_bvh(d / "sub" / "w.bvh", seconds=1.0)
    (d / "bad.bvh").write_text("HIERARCHY\nROOT x\n")
    r = invoke("render", d, "-r", "-o", tmp_path / "out", "--size", "160x160", "--fps", "5", "--camera", "side",
               "--no-attention", "-f", "mp4")
    assert r.exit_code == 1, r.output
    assert (tmp_path / "out" / "sub" / "w.mp4").is_file() and not (tmp_path / "out" / "bad.mp4").exists()
    assert "1 written, 1 failed" in r.stderr and "Error: " in r.stderr and "bad.bvh" in r.stderr


@pytest.mark.parametrize("args, fragment", [
    (["--size", "10x10"], "--size"), (["--camera", "top"], "--camera"), (["-f", "avi"], "--format"),
    (["--fps", "0"], "--fps"), (["-f", "mp4", "--size", "161x160"], "even"),
])
def test_cli_render_user_errors(walk, tmp_path, args, fragment):
    r = invoke("render", walk, "-o", tmp_path, *args)
    assert r.exit_code == 2 and fragment in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.output
    assert not list(tmp_path.iterdir())


def test_cli_render_bad_single_file(tmp_path):
    bad = tmp_path / "bad.bvh"
    bad.write_text("not a bvh")
    r = invoke("render", bad, "-o", tmp_path / "o")
    assert r.exit_code == 2 and r.stderr.startswith("Error: ") and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_kit_skeleton_and_captions_without_motion_words(walk, tmp_path):
    m = load_motion(walk, skeleton="kit")
    r = fake_result(m)
    r.skeleton = "kit"
    info = render.render_clip(m, r, tmp_path / "kit.gif", size=(200, 240))
    assert info.frames == round(m.n_frames / m.fps * 12.5)
    for t in r.tokens:                                         # no motion word: no lanes, no highlight
        t.is_motion_word = False
    assert not scene.timeline(r, [0.5, 1.0]).active.max() >= 0
    frames = list(render.render_frames(m, r, size=(200, 200), fps=5))
    assert len(frames) == 10
    r.tokens, r.text = [], ""                                  # an empty caption
    assert len(list(render.render_frames(m, r, size=(200, 200), fps=5))) == 10


def test_a_timeline_take_is_shown_as_its_actions(walk):
    """A take captioned as a timeline (segments, no caption of the whole take): the animation and
    the viewer show the actions' clauses as the caption, each action's word active over its span
    with its body-part shares (scene.timeline_view), not "no motion words"."""
    from m2t.models.viewer import viewer_document
    m = load_motion(walk)
    r = fake_result(m)
    r.tokens, r.text = [], "a person walks forward, then raises the right hand"
    r.window, r.alpha = r.window[:0], r.alpha[:0]
    r.segments = [{"word": "walks", "text": "a person walks forward", "onset_s": 0.0, "offset_s": 0.9,
                   "confidence": 0.8, "parts": [{"name": "root", "score": 0.7}, {"name": "left_leg", "score": 0.3}]},
                  {"word": "lifts", "text": "a person raises the right hand", "onset_s": 1.0, "offset_s": 1.9,
                   "confidence": 0.6, "parts": [{"name": "right_arm", "score": 0.9}, {"name": "torso", "score": 0.1}]}]
    v = scene.timeline_view(r)
    assert v.words == ["a", "person", "walks", "forward", "then", "raises", "the", "right", "hand", "(lifts)"]
    assert [(t.word, t.onset_s, t.offset_s) for t in v.motion_words] == [("walks", 0.0, 0.9), ("(lifts)", 1.0, 1.9)]
    tl = scene.timeline(v, [0.5, 1.5])
    assert tl.active.tolist() == [2, 9] and tl.strength.tolist() == [1.0, 1.0]
    assert tl.alpha[0].tolist() == pytest.approx([0.7, 0, 0, 0, 0.3, 0]) and tl.alpha[1][3] == pytest.approx(0.9)
    assert scene.timeline_view(fake_result(m)).tokens == fake_result(m).tokens     # a caption: unchanged
    renderer = render.Renderer(m.positions, m.fps, "t2m", r, (240, 240))
    assert len(renderer.clauses) == 2 and renderer.lanes == []                     # one lane of actions
    assert len(list(render.render_frames(m, r, size=(200, 200), fps=5))) == 10
    doc = viewer_document(m, r)
    toks = doc["caption"]["tokens"]
    assert [t["word"] for t in toks if t["is_motion_word"]] == ["walks", "(lifts)"]
    assert all(("window" in t) == t["is_motion_word"] for t in toks)              # no arrays for the other words
    assert max(doc["timeline"]["active"]) == 9
    # a long take's 40 actions still fit a 480x480 animation (one lane, the active clause)
    r.segments = [{**r.segments[i % 2], "onset_s": 0.05 * i, "offset_s": 0.05 * (i + 1)} for i in range(40)]
    assert len(list(render.render_frames(m, r, size=(480, 480), fps=2))) == 4


# ----------------------------------------------------------------------------- real files
def _amass_npz(path):
    T = 120
    poses = np.zeros((T, 156))
    poses[:, 3] = 0.5 * np.sin(np.arange(T) / 120 * 2 * np.pi * 1.5)       # left hip swings
    poses[:, 6] = -poses[:, 3]
    trans = np.stack([np.zeros(T), np.arange(T) / 120 * 1.2, np.full(T, 0.9)], -1)   # Z up, walking along +Y
    np.savez(path, poses=poses, trans=trans, gender=np.array("neutral"), betas=np.zeros(16),
             mocap_framerate=np.array(120.0))
    return path


def test_render_and_view_every_format(shared_data, tmp_path):
    """BVH (gzip), ASF/AMC (plain and gzip), C3D, SMPL npz: both commands write their files."""
    from conftest import need
    files = [need(shared_data / p) for p in (
        "bandai-namco/dataset-1/data/dataset-1_bow_active_001.bvh.gz", "cmu-amc/07_05-walk.amc",
        "hdm05/test/1/HDM_mm_depositFloorR_019_120.amc.gz", "c3d/Qualisys.c3d", "xia/angry_13_000.bvh")]
    files.append(_amass_npz(tmp_path / "amass_walk.npz"))
    r = invoke("render", *files, "-o", tmp_path / "gif", "--size", "160x160", "--fps", "4")
    assert r.exit_code == 0, r.output
    r = invoke("view", *files, "-o", tmp_path / "html")
    assert r.exit_code == 0, r.output
    for f in files:
        stem = Path(f.name.removesuffix(".gz")).stem
        with Image.open(tmp_path / "gif" / f"{stem}.gif") as im:
            assert im.n_frames >= 2
        assert (tmp_path / "html" / f"{stem}.html").stat().st_size > 10_000
    assert (tmp_path / "html" / "index.html").is_file()


def test_cli_render_output_paths(walk, tmp_path):
    (tmp_path / "f").write_text("x")
    r = invoke("render", walk, "-o", tmp_path / "f")
    assert r.exit_code == 2 and r.stderr.strip() == f"Error: {tmp_path / 'f'}: output must be a folder, but it is a file"
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        write_walk_bvh(d / "w.bvh", seconds=1.0)
    r = invoke("render", a / "w.bvh", b / "w.bvh", "-o", tmp_path / "o")
    assert r.exit_code == 2 and "would both write" in r.stderr and "render them separately" in r.stderr
    assert not (tmp_path / "o").exists()
    r = invoke("render", a / "w.bvh", b / "w.bvh", "-o", tmp_path / "x.gif")
    assert r.exit_code == 2 and "several input files need an output folder" in r.stderr
    r = invoke("render", walk, "-o", tmp_path / "x.avi")                     # a file name m2t cannot write
    assert r.exit_code == 2 and r.stderr.strip() == (f"Error: -o {tmp_path / 'x.avi'}: render writes .gif files "
                                                     "here; give a name ending in .gif or an output folder")
    assert not (tmp_path / "x.avi").exists()
    r = invoke("render", walk, "-o", tmp_path / "x.mp4", "--size", "160x160", "--fps", "4")   # the suffix says mp4
    assert r.exit_code == 0, r.output
    assert (tmp_path / "x.mp4").read_bytes()[4:8] == b"ftyp"


def test_write_errors_name_the_file(walk, tmp_path):
    from m2t.models.visual_batch import run_visuals

    def write(m, r, dest):
        raise ConfigError("--size 160x160: too small")

    (o,) = run_visuals([(walk, tmp_path / "w.gif")], write)
    assert not o.ok and o.error == f"{walk}: --size 160x160: too small" and o.result is not None
