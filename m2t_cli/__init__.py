"""m2t command-line interface: one thin Typer function per command over the library API."""
