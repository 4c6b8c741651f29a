"""m2t command-line interface: one thin Typer function per command over the library API."""
import os

# torch's OpenMP threads spin while waiting by default; on a busy 2-core machine that made
# training and decoding ~8x slower (docs/performance.md). The CLI waits passively unless the
# user says otherwise. Set before torch is imported (the commands import it lazily).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# numpy's OpenBLAS starts a thread per core that spins after every call; the CLI's numpy work is
# small matrices (rotations, features), so those threads only took CPU from ONNX Runtime and from
# `--jobs` workers (120 files, --jobs 2: 5.1 -> 2.9 s; docs/performance.md "Folders in parallel and
# on clusters").
# Set before numpy is imported; a user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
