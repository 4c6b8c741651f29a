"""Human-readable printing for `m2t info`."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_info(d: dict, console: Console | None = None) -> None:
    console = console or Console()
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    skip = {"joint_names", "mapping", "unmapped", "file"}
    t.add_row("file", d["file"])
    for k, v in d.items():
        if k not in skip:
            t.add_row(k, ", ".join(map(str, v)) if isinstance(v, list) else str(v))
    t.add_row("joint names", ", ".join(d.get("joint_names", [])))
    mapping = d.get("mapping")
    if isinstance(mapping, dict):
        t.add_row("mapping (t2m)", "; ".join(f"{k} <- {_src(v)}" for k, v in mapping.items()))
    unmapped = d.get("unmapped") or []
    t.add_row("unmapped", ", ".join(unmapped) if unmapped else "none")
    console.print(t)


def _src(v) -> str:
    if isinstance(v, str):
        return v
    return " + ".join(f"{w:.2f}*{s}" for s, w in v.items())
