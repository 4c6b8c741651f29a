"""Every user error: one line naming the file and the problem, exit code 2, no traceback."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from m2t.converters.synthetic import write_walk_bvh
from m2t.cli.app import app

runner = CliRunner()


@pytest.fixture
def walk(tmp_path):
    write_walk_bvh(tmp_path / "walk.bvh", seconds=0.5)
    return tmp_path / "walk.bvh"


def _case(tmp_path, walk, kind):
    if kind == "missing":
        return ["convert", tmp_path / "nope.bvh"], "nope.bvh: no such file"
    if kind == "extension":
        (tmp_path / "x.fbx").write_text("x")
        return ["convert", tmp_path / "x.fbx"], "x.fbx: unknown file type '.fbx'"
    if kind == "truncated":
        t = walk.read_text()
        (tmp_path / "t.bvh").write_text(t[: len(t) - 300])
        return ["convert", tmp_path / "t.bvh"], "t.bvh:"
    if kind == "skeleton":
        return ["convert", walk, "--skeleton", "smplx"], "--skeleton 'smplx' is not one of: t2m, kit"
    if kind == "units":
        return ["convert", walk, "--units", "furlong"], "--units 'furlong' is not one of"
    if kind == "up":
        return ["convert", walk, "--up", "z"], "--up 'z' is not one of"
    if kind == "joint_map":
        return ["convert", walk, "--joint-map", tmp_path / "none.json"], "none.json: cannot read joint map"
    if kind == "unmapped":
        (tmp_path / "m.json").write_text('{"head": "Skull"}')
        return ["convert", walk, "--joint-map", tmp_path / "m.json"], "m.json: joint(s) not in"
    if kind == "info_garbage":
        (tmp_path / "g.bvh").write_bytes(b"\x00\x01garbage")
        return ["info", tmp_path / "g.bvh"], "g.bvh: not a BVH file"
    if kind == "gz":
        (tmp_path / "z.bvh.gz").write_bytes(b"not gzip at all")
        return ["convert", tmp_path / "z.bvh.gz"], "z.bvh.gz: cannot read"
    if kind == "info_missing":
        return ["info", tmp_path / "nope.bvh"], "nope.bvh: no such file"
    if kind == "info_folder":
        return ["info", tmp_path], f"{tmp_path}: is a folder; this command takes one file"
    if kind == "caption_out_is_a_file":
        (tmp_path / "o.txt").write_text("x")
        return ["caption", walk, "-o", tmp_path / "o.txt"], "o.txt: output must be a folder, but it is a file"
    if kind == "caption_cannot_write":
        (tmp_path / "o" / "walk.json").mkdir(parents=True)       # the output's name is taken by a folder
        return (["caption", walk, "-f", "json", "-o", tmp_path / "o", "--overwrite"],
                f"walk.bvh: cannot write {tmp_path / 'o' / 'walk.json'} (Is a directory)")
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["missing", "extension", "truncated", "skeleton", "units", "up", "joint_map",
                                  "unmapped", "info_garbage", "gz", "info_missing", "info_folder",
                                  "caption_out_is_a_file", "caption_cannot_write"])
def test_user_errors_exit_2_one_line(tmp_path, walk, kind):
    args, fragment = _case(tmp_path, walk, kind)
    r = runner.invoke(app, [str(a) for a in args] + (["-o", str(tmp_path / "out")] if args[0] == "convert" else []))
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error:")]
    assert len(errors) == 1 and fragment in errors[0], r.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_flag_is_exit_2():
    r = runner.invoke(app, ["convert", "--no-such-flag", "x.bvh"])
    assert r.exit_code == 2


def test_an_option_for_another_file_type_is_said_once(tmp_path):
    """--asf given for a BVH (or --subject for anything but C3D) is ignored, and said so once
    per option and file type in a process (a folder of 120 BVH files: one line, not 120)."""
    import warnings

    from m2t.converters import api
    write_walk_bvh(tmp_path / "a.bvh", seconds=0.5)
    api._TOLD.clear()
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        for _ in range(3):
            api.read_motion(tmp_path / "a.bvh", asf=tmp_path / "x.asf", subject="Daphnee")
    assert sorted(str(w.message) for w in got) == ["--asf applies to .amc files; ignored for .bvh files",
                                                   "--subject applies to .c3d files; ignored for .bvh files"]


def test_worker_warnings_are_one_plain_line(capsys):
    """Worker processes (--jobs) show warnings as the m2t command does, not as
    'path/module.py:89: UserWarning: ...'."""
    import warnings

    from m2t.converters.errors import plain_warnings
    old = warnings.showwarning
    try:
        plain_warnings()
        warnings.showwarning("x.c3d: filled 3 gaps", UserWarning, "c3d.py", 1)
    finally:
        warnings.showwarning = old
    assert capsys.readouterr().err == "Warning: x.c3d: filled 3 gaps\n"
