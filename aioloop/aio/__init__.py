"""libaio's callback-style API over aioloop's Scheduler (see README's
libaio -> aioloop name table)."""

from ._life import ainit, amain, aexit
from ._sched import sched, sched_io
from ._io import (READ, WRITE, read, write, remove_read, remove_write,
                  mk_async, close_on_exec)
from ._timers import (add_oneshot, add_interval, remove_timer, now,
                      get_time_of_day, stats)
from ._dial import adial
from ._proc import (Waitmsg, sig_install, add_child_handler,
                    remove_child_handler, afork, aspawn)
from ._daemon import (access, close, fstat, fsync, open, pread, pwrite,
                      sendfile, stat)

__all__ = ["ainit", "amain", "aexit",
           "sched", "sched_io",
           "READ", "WRITE", "read", "write", "remove_read", "remove_write",
           "mk_async", "close_on_exec",
           "add_oneshot", "add_interval", "remove_timer", "now",
           "get_time_of_day", "stats",
           "fsync", "open", "close", "access", "stat", "fstat", "sendfile",
           "pread", "pwrite", "adial",
           "Waitmsg", "sig_install", "add_child_handler",
           "remove_child_handler", "afork", "aspawn"]
