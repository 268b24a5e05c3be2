# Type stubs for aioloop.aio: libaio's callback-style API. Handlers get an
# int (0 or an errno) or the operation's result, in a new task on the
# requesting dispatch thread.
import os
from collections.abc import Callable
from typing import Any, TypeAlias

from typing_extensions import Buffer

__all__ = ["ainit", "amain", "aexit", "fsync", "open", "close", "access", "stat",
           "fstat", "sendfile", "pread", "pwrite"]

_Path: TypeAlias = str | bytes | os.PathLike[str] | os.PathLike[bytes]
_ErrHandler: TypeAlias = Callable[[int], object]

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
