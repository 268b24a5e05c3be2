# Type stubs for aioloop.aio: libaio's callback-style API (see
# aioloop/aio/*.py for each name's contract). Daemon handlers get an int (0
# or an errno) or the operation's result, in a new task on the requesting
# dispatch thread.
import os
import resource
import socket
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple, Protocol, TypeAlias, TypeVarTuple, Unpack, type_check_only

from typing_extensions import Buffer

from .._core import Handle as _Handle
from .. import Resolver

_Ts = TypeVarTuple("_Ts")

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

_Path: TypeAlias = str | bytes | os.PathLike[str] | os.PathLike[bytes]
_ErrHandler: TypeAlias = Callable[[int], object]
_StrOrBytesPath: TypeAlias = _Path

@type_check_only
class _SchedIoHandle(Protocol):
    def cancel(self) -> None: ...
    def cancelled(self) -> bool: ...

# --- the life cycle ---------------------------------------------------------------

def ainit(nthr: int | None = None, naiod: int = 4) -> None:
    """Configure the scheduler: nthr dispatch threads, naiod daemon threads."""
    ...
def amain() -> Any:
    """Run the dispatch threads, the caller as thread 0, until aexit; return
    the status given to it."""
    ...
def aexit(status: Any = None) -> None:
    """End amain(), which returns status; from any thread or callback."""
    ...

# --- scheduling -------------------------------------------------------------------------

def sched(fn: Callable[[Unpack[_Ts]], object], /, *args: Unpack[_Ts],
          hint: int | None = None) -> _Handle: ...
def sched_io(fn: Callable[[int], object], fd: int, op: int, *,
             hint: int | None = None) -> _SchedIoHandle: ...

# --- one-shot I/O -----------------------------------------------------------------------

READ: Final = 1
WRITE: Final = 2

def read(fn: Callable[[int], object], fd: int, *,
         hint: int | None = None) -> Callable[[int], object] | None: ...
def write(fn: Callable[[int], object], fd: int, *,
          hint: int | None = None) -> Callable[[int], object] | None: ...
def remove_read(fd: int) -> Callable[[int], object] | None: ...
def remove_write(fd: int) -> Callable[[int], object] | None: ...
def mk_async(fd: int) -> None: ...
def close_on_exec(fd: int, on: bool = True) -> None: ...

# --- timers, time, counters ---------------------------------------------------------------

def add_oneshot(fn: Callable[[], object], when: float, *, hint: int | None = None) -> None: ...
def add_interval(fn: Callable[[], object], interval: float, *,
                 hint: int | None = None) -> None: ...
def remove_timer(fn_or_when: Callable[[], object] | float, /) -> int: ...
def now() -> float: ...
def get_time_of_day() -> float: ...
def stats() -> dict[str, Any]: ...

# --- the AIO daemons ----------------------------------------------------------------

def fsync(errh: _ErrHandler, fd: int) -> None:
    """fsync(2); errh(0) or errh(errno)."""
    ...
def open(errh: _ErrHandler, fdh: Callable[[int], object], path: _Path, flags: int,
         mode: int = 0o666) -> None:
    """open(2); fdh(fd) on success, errh(errno) on failure."""
    ...
def close(errh: _ErrHandler, fd: int) -> None:
    """close(2); errh(0) or errh(errno)."""
    ...
def access(errh: _ErrHandler, path: _Path, mode: int) -> None:
    """access(2); errh(0) or errh(errno)."""
    ...
def stat(errh: _ErrHandler, stath: Callable[[os.stat_result], object], path: _Path) -> None:
    """stat(2); stath(result) on success, errh(errno) on failure."""
    ...
def fstat(errh: _ErrHandler, stath: Callable[[os.stat_result], object], fd: int) -> None:
    """fstat(2); stath(result) on success, errh(errno) on failure."""
    ...
def sendfile(errh: _ErrHandler, out_fd: int, in_fd: int, offset: int | None, count: int, *,
             senth: Callable[[int], object] | None = None) -> None:
    """sendfile(2) until count bytes are sent or in_fd ends; errh(0), or
    senth(bytes sent) if given; errh(errno) on failure."""
    ...
def pread(errh: _ErrHandler, datah: Callable[[bytes], object], fd: int, n: int,
          offset: int) -> None:
    """pread(2); datah(bytes) on success, errh(errno) on failure."""
    ...
def pwrite(errh: _ErrHandler, fd: int, data: Buffer, offset: int) -> None:
    """pwrite(2) of all of data; errh(0) or errh(errno)."""
    ...

# --- dialing --------------------------------------------------------------------------

def adial(fdh: Callable[[socket.socket], object], addr: str, *,
          errh: _ErrHandler | None = None, local: Any = None, timeout: float | None = None,
          resolver: Resolver | None = None, hint: int | None = None) -> None:
    """Dial a dial string; fdh(sock) with the connected socket, or errh(errno)."""
    ...

# --- signals and processes -----------------------------------------------------

class Waitmsg(NamedTuple):
    """How a child ended: exit status or killing signal, and its rusage
    (all None if someone else reaped it)."""
    pid: int
    status: int | None
    signal: int | None
    rusage: resource.struct_rusage | None

def sig_install(fn: Callable[[int], object] | None, sig: int) -> Callable[[int], object] | None:
    """Install fn(signum) as the handler of signal sig, run as a task;
    None restores the default. Returns the handler it replaces."""
    ...

def add_child_handler(fn: Callable[[Waitmsg], object], pid: int) -> Callable[[Waitmsg], object] | None:
    """Run fn(waitmsg) as a task when child pid exits (it is reaped then);
    returns the handler it replaces for that pid."""
    ...

def remove_child_handler(pid: int) -> Callable[[Waitmsg], object] | None:
    """Remove the handler of child pid and return it (None if none)."""
    ...

def afork() -> int:
    """fork() while the scheduler keeps running; 0 in the child, where aio
    starts idle."""
    ...

def aspawn(path: _StrOrBytesPath, argv: list[_StrOrBytesPath] | tuple[_StrOrBytesPath, ...],
           env: Mapping[str | bytes, str | bytes] | None = None,
           fn: Callable[[], object] | None = None) -> int:
    """fork and exec path with argv and env, fn() in the child before exec;
    returns the pid. Exec errors are OSError in the parent."""
    ...
