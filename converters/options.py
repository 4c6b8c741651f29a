"""The one check of the load options every command shares (--skeleton, --units, --up), so a bad
flag is refused once, before any file is read, with the same line everywhere."""
from __future__ import annotations

from .canonical import UP_AXES
from .errors import ConfigError
from .units import UNITS

SKELETONS = ("t2m", "kit")


def check_choice(value, choices, flag: str) -> None:
    if value is not None and value not in choices:
        raise ConfigError(f"{flag} {value!r} is not one of: {', '.join(choices)}")


def check_load_options(skeleton: str | None = None, units: str | None = None, up: str | None = None) -> None:
    check_choice(skeleton, SKELETONS, "--skeleton")
    check_choice(units, tuple(UNITS), "--units")
    check_choice(up, UP_AXES, "--up")
