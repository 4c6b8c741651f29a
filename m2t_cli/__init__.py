"""m2t command-line interface: one thin Typer function per command over the library API."""
import os

# torch's OpenMP threads spin while waiting by default; on a busy 2-core machine that made
# training and decoding ~8x slower (docs/performance.md). The CLI waits passively unless the
# user says otherwise. Set before torch is imported (the commands import it lazily).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
