"""Turn library errors into one clear line on stderr and exit code 2 (never a traceback)."""
from __future__ import annotations

import os
import sys
import warnings
from contextlib import contextmanager

import click
import typer

from m2t.converters.errors import M2TError, file_error

EXIT_USER_ERROR = 2
EXIT_BATCH_FAILED = 1


def fail(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(EXIT_USER_ERROR)


@contextmanager
def user_errors(on_interrupt: str | None = None):
    """Map M2TError to `Error: <message>` + exit 2; show library warnings as one line each.
    `on_interrupt`: what Ctrl-C adds to "Interrupted." (e.g. how to continue).

    Any other exception is a bug, but a user still gets one line, not a traceback
    (set M2T_DEBUG=1 to see the traceback)."""
    def show(message, category, filename, lineno, file=None, line=None):
        typer.echo(f"Warning: {message}", err=True)

    old = warnings.showwarning
    warnings.showwarning = show
    try:
        yield
    except M2TError as e:
        raise fail(str(e)) from None
    except (click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort):
        raise
    except Exception as e:
        if os.environ.get("M2T_DEBUG"):
            raise
        raise fail(file_error("m2t", e)) from None
    except KeyboardInterrupt:
        typer.echo("Interrupted." + (f" {on_interrupt}" if on_interrupt else ""), err=True)
        sys.exit(130)
    finally:
        warnings.showwarning = old
