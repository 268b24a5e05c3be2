"""Compile the benchmark's C helpers (load client, reference server) on demand.

The sources ship inside the package (``aioloop/bench/csrc/``), so an installed
aioloop can build them wherever a C compiler exists.  Binaries go to a cache
directory keyed by a hash of the source and the compiler command, so a changed
source or compiler rebuilds and concurrent runs never see a half-written file.
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CSRC = Path(__file__).with_name("csrc")
CFLAGS = ["-O2", "-Wall"]
# flags a source needs beyond CFLAGS (threads), by its name
EXTRA_FLAGS = {"eventfd_pingpong": ["-pthread"]}


class BuildError(Exception):
    """The compiler is missing or refused the source; the message says which."""


def cache_dir():
    """Where built helpers live: $AIOLOOP_BENCH_CACHE, else $XDG_CACHE_HOME/aioloop/bench,
    else ~/.cache/aioloop/bench."""
    explicit = os.environ.get("AIOLOOP_BENCH_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aioloop" / "bench"


def find_compiler():
    """The C compiler to use ($CC, else cc, gcc or clang on PATH), or None."""
    for name in filter(None, (os.environ.get("CC"), "cc", "gcc", "clang")):
        path = shutil.which(name.split()[0])
        if path:
            return path
    return None


def build(name):
    """Return the path of the executable built from ``csrc/<name>.c``, compiling it
    into the cache first if needed.  Raises BuildError when there is no compiler or
    the compilation fails."""
    cc = find_compiler()
    if cc is None:
        raise BuildError("no C compiler found (set CC or install cc)")
    source = CSRC / f"{name}.c"
    text = source.read_bytes()
    flags = CFLAGS + EXTRA_FLAGS.get(name, [])
    key = hashlib.sha256(text + cc.encode() + " ".join(flags).encode()).hexdigest()[:16]
    out = cache_dir() / f"{name}-{key}"
    if os.access(out, os.X_OK):
        return out
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}-", dir=out.parent)
    except OSError as e:
        raise BuildError(f"cannot write to the cache {out.parent} ({e.strerror}); "
                         "set AIOLOOP_BENCH_CACHE to a writable directory") from None
    os.close(fd)
    try:
        proc = subprocess.run([cc, *flags, "-o", tmp, str(source)],
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise BuildError(f"{cc} failed on {source.name}: {proc.stderr.strip()[-500:]}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, out)  # atomic: a concurrent run sees the old name or the whole file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
