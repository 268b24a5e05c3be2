"""libaio's callback-style API over aioloop's Scheduler (see README's
libaio -> aioloop name table)."""

from ._life import ainit, amain, aexit
from ._daemon import (access, close, fstat, fsync, open, pread, pwrite,
                      sendfile, stat)

__all__ = ["ainit", "amain", "aexit"]
__all__ += ["fsync", "open", "close", "access", "stat", "fstat", "sendfile",
            "pread", "pwrite"]
