# Type stubs for aioloop.daemon: libaio's AIO daemon operations, asyncio
# style. Each function checks its arguments at the call and returns an
# asyncio Future of the running loop (submitted to its default executor).
import asyncio
import os
from typing import TypeAlias

from typing_extensions import Buffer

__all__ = ("fsync", "open", "close", "access", "stat", "fstat", "sendfile",
           "pread", "pwrite")

_Path: TypeAlias = str | bytes | os.PathLike[str] | os.PathLike[bytes]

def fsync(fd: int) -> asyncio.Future[None]:
    """fsync(2) on fd in a daemon."""
    ...
def open(path: _Path, flags: int, mode: int = 0o666) -> asyncio.Future[int]:
    """open(2) in a daemon; the new (non-inheritable) descriptor."""
    ...
def close(fd: int) -> asyncio.Future[None]:
    """close(2) on fd in a daemon."""
    ...
def access(path: _Path, mode: int) -> asyncio.Future[None]:
    """access(2) in a daemon: None, or OSError with its errno."""
    ...
def stat(path: _Path) -> asyncio.Future[os.stat_result]:
    """stat(2) in a daemon."""
    ...
def fstat(fd: int) -> asyncio.Future[os.stat_result]:
    """fstat(2) in a daemon."""
    ...
def sendfile(out_fd: int, in_fd: int, offset: int | None, count: int) -> asyncio.Future[int]:
    """sendfile(2) until count bytes are sent or in_fd ends; the bytes sent."""
    ...
def pread(fd: int, n: int, offset: int) -> asyncio.Future[bytes]:
    """pread(2) of up to n bytes at offset."""
    ...
def pwrite(fd: int, data: Buffer, offset: int) -> asyncio.Future[int]:
    """pwrite(2) of all of data at offset; len(data)."""
    ...
