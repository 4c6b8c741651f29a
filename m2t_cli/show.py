"""Human-readable printing for `m2t info`."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_info(d: dict, console: Console | None = None) -> None:
    console = console or Console()
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    skip = {"joint_names", "mapping", "unmapped", "file", "found_by", "placed", "ambiguous", "warnings"}
    t.add_row("file", d["file"])
    for k, v in d.items():
        if k not in skip:
            t.add_row(k, ", ".join(map(str, v)) if isinstance(v, list) else str(v))
    t.add_row("joint names", ", ".join(d.get("joint_names", [])))
    unmapped = d.get("unmapped") or []
    t.add_row("unmapped", ", ".join(unmapped) if unmapped else "none")
    for w in d.get("warnings") or []:
        t.add_row("warning", w)
    for a in d.get("ambiguous") or []:
        t.add_row("ambiguous", a)
    console.print(t)
    mapping = d.get("mapping")
    if isinstance(mapping, dict):
        found_by, placed = d.get("found_by") or {}, d.get("placed") or {}
        mt = Table(title="mapping (t2m)", title_justify="left", box=None, pad_edge=False)
        for col in ("joint", "source", "found by (confidence)"):
            mt.add_column(col, overflow="fold")
        for k, v in mapping.items():
            mt.add_row(k, _src(v), found_by.get(k, "") + (f"; {placed[k]}" if k in placed else ""))
        console.print(mt)


def _src(v) -> str:
    if isinstance(v, str):
        return v
    return " + ".join(f"{w:.2f}*{s}" for s, w in v.items())
