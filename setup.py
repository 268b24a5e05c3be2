"""Build the one extension module, aioloop._core, from aioloop/_core.pyx.

_core.pyx includes one file per concern (see DESIGN.md's folder layout); Cython
compiles them as a single C module, so only _core.pyx is named here.
"""
import os
import sys

if not sys.platform.startswith("linux"):
    sys.exit("aioloop builds and runs on Linux only: its loop is made of epoll, "
             f"eventfd and pidfd, which {sys.platform} does not have.")

from Cython.Build import cythonize
from setuptools import Extension, setup

debug = os.environ.get("AIOLOOP_DEBUG_BUILD") == "1"

extensions = [
    Extension(
        "aioloop._core",
        ["aioloop/_core.pyx"],
        extra_compile_args=["-O0", "-g"] if debug else ["-O2"],
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "embedsignature": True,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            # Cross-thread state (the inbox, the daemon pool) is guarded by
            # real locks, not the GIL: see loop/inbox.pyx, sched/daemon_pool.pyx.
            "freethreading_compatible": True,
        },
    )
)
