"""libaio's AIO daemon operations, asyncio style: ``await aioloop.daemon.fsync(fd)``.

Each function validates its arguments at the call (TypeError or ValueError
naming the argument), submits one blocking call to the running loop's
default executor and returns an asyncio Future of that loop: awaited, it
gives the call's result or raises OSError with the kernel's errno (its
subclass: FileNotFoundError, PermissionError...). A call with no running
loop raises RuntimeError.

The executor is the running loop's default one, whatever the loop: on an
aioloop Loop it is the daemon pool (a Scheduler's loops share theirs), whose
D threads take calls in FIFO order and hand results back through the loop's
inbox; on any other loop (stock asyncio, uvloop) it is that loop's
ThreadPoolExecutor, also FIFO. So this module works inside every loop, with
or without ``aio.ainit``. The os functions used here release the GIL around
their system call, so the calls run in parallel with the loops even on a
GIL build.

Cancelling the returned future cancels a call that has not started (a
cancelled ``open`` never opens); one already in the kernel completes and its
result is dropped, except that a descriptor opened for nobody is closed (no
descriptor leaks).

The blocking bodies here are shared with the callback style
(aioloop/aio/_daemon.py): one implementation, two faces.
"""

import asyncio as _asyncio
import functools as _functools
import os as _os
import threading as _threading
from asyncio import events as _events

__all__ = ("fsync", "open", "close", "access", "stat", "fstat", "sendfile",
           "pread", "pwrite")

_INT_MAX = 2 ** 31 - 1      # C int: fds, read sizes beyond Linux's cap


# --- argument checks (at the call, on the caller's thread) ---------------------

def _check_int(name, value, minimum=None, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def _check_fd(name, fd):
    return _check_int(name, fd, 0, _INT_MAX)


def _check_path(name, path):
    try:
        path = _os.fspath(path)
    except TypeError:
        raise TypeError(f"{name} must be a str, bytes or os.PathLike, got "
                        f"{type(path).__name__}") from None
    if ("\0" if isinstance(path, str) else b"\0") in path:
        raise ValueError(f"{name} must not contain a NUL character")
    return path


def _check_offset(name, offset, allow_none=False):
    if offset is None and allow_none:
        return None
    return _check_int(name, offset, 0)


def _check_data(name, data):
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(f"{name} must be a bytes-like object, got "
                        f"{type(data).__name__}") from None
    # A snapshot: the caller may reuse a bytearray before a daemon writes it.
    return data if type(data) is bytes else view.tobytes()


def _check_callable(name, fn, optional=False):
    if fn is None and optional:
        return None
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
    return fn


# --- the blocking bodies (on a daemon thread) --------------------------------

class _OwnedFd:
    """A descriptor on its way from a daemon to whoever asked for it.

    ``take()`` hands it over; ``close()`` closes it where the code knows
    nobody wants it (a cancelled await, a handler that cannot run). As a
    last resort (the loop closed before the result could be posted), it is
    closed when the carrier is freed; on a free-threaded build that may wait
    until the daemon thread that made it runs again (biased reference
    counting), hence the explicit close() wherever a drop is seen.
    take() and close() run on the one thread that delivers the result, and
    __del__ only once every reference is gone, so they never race."""

    __slots__ = ("_fd",)

    def __init__(self, fd):
        self._fd = fd

    def take(self):
        fd, self._fd = self._fd, -1
        return fd

    def close(self):
        fd = self.take()
        if fd >= 0:
            try:
                _os.close(fd)
            except OSError:
                pass

    __del__ = close


class _OpenJob:
    """open(2) for an awaiter who may give up: once abandon()ed (the
    awaiter's future was cancelled), a job that has not started does not
    open at all. Thread contract: ``_abandoned`` is written by the loop's
    thread and read by the daemon, under ``_lock``."""

    __slots__ = ("_lock", "_abandoned")

    def __init__(self):
        self._lock = _threading.Lock()
        self._abandoned = False

    def abandon(self):
        with self._lock:
            self._abandoned = True

    def __call__(self, path, flags, mode):
        with self._lock:
            if self._abandoned:
                return None
        return _open(path, flags, mode)


def _fsync(fd):
    _os.fsync(fd)


def _open(path, flags, mode):
    return _OwnedFd(_os.open(path, flags, mode))


def _close(fd):
    _os.close(fd)


@_functools.cache
def _libc_access():
    import ctypes
    fn = ctypes.CDLL(None, use_errno=True).access
    fn.argtypes = (ctypes.c_char_p, ctypes.c_int)
    fn.restype = ctypes.c_int
    return fn, ctypes.get_errno


def _access(path, mode):
    # os.access() says only True or False; access(2)'s errno (ENOENT, EACCES,
    # EROFS...) is the answer libaio's handler gets. ctypes drops the GIL
    # around the foreign call, and keeps errno per thread.
    access, get_errno = _libc_access()
    if access(_os.fsencode(path), mode) != 0:
        err = get_errno()
        raise OSError(err, _os.strerror(err), path)


def _stat(path):
    return _os.stat(path)


def _fstat(fd):
    return _os.fstat(fd)


def _sendfile(out_fd, in_fd, offset, count):
    # sendfile(2) may send less than asked (a signal, a socket buffer); the
    # daemon goes on until `count` bytes are sent or in_fd is at its end.
    total = 0
    while total < count:
        n = _os.sendfile(out_fd, in_fd, None if offset is None else offset + total,
                         count - total)
        if n == 0:
            break
        total += n
    return total


def _pread(fd, n, offset):
    return _os.pread(fd, n, offset)


def _pwrite(fd, data, offset):
    view = memoryview(data)
    total = 0
    while total < len(view):
        total += _os.pwrite(fd, view[total:], offset + total)
    return total


# --- the asyncio face ------------------------------------------------------------

def _running_loop(what):
    loop = _events._get_running_loop()
    if loop is None:
        raise RuntimeError(f"aioloop.daemon.{what}() needs a running event loop "
                           "(from a plain thread use aioloop.aio's callback style)")
    return loop


def _submit(what, fn, *args):
    return _running_loop(what).run_in_executor(None, fn, *args)


class _OpenFuture(_asyncio.Future):
    """The future open() returns: its cancel() abandons the job at once (a
    done callback would come one loop pass later, by when a daemon may
    have started it)."""

    def __init__(self, job, loop):
        super().__init__(loop=loop)
        self._job = job

    def cancel(self, msg=None):
        self._job.abandon()
        return super().cancel(msg)


def _hand_over(outer, inner):
    # On the loop's thread. Cancelling the outer future abandons the job
    # rather than cancelling the inner one, so a job that did open always
    # gets here; the inner one is cancelled only by an executor's shutdown,
    # before the job started.
    if inner.cancelled():
        if not outer.done():
            outer.cancel()
        return
    exc = inner.exception()
    carrier = None if exc is not None else inner.result()
    if outer.done():
        if carrier is not None:
            carrier.close()         # opened for an awaiter who left
    elif exc is not None:
        outer.set_exception(exc)
    else:
        outer.set_result(carrier.take())


def fsync(fd):
    """fsync(2) on ``fd`` in a daemon; the future's result is None."""
    _check_fd("fd", fd)
    return _submit("fsync", _fsync, fd)


def open(path, flags, mode=0o666):
    """open(2) in a daemon (as os.open: the descriptor is not inheritable);
    the future's result is the new descriptor. Cancelled after the open ran,
    the descriptor is closed."""
    path = _check_path("path", path)
    _check_int("flags", flags)
    _check_int("mode", mode, 0)
    loop = _running_loop("open")
    job = _OpenJob()
    inner = loop.run_in_executor(None, job, path, flags, mode)
    outer = _OpenFuture(job, loop)
    inner.add_done_callback(_functools.partial(_hand_over, outer))
    return outer


def close(fd):
    """close(2) on ``fd`` in a daemon; the future's result is None."""
    _check_fd("fd", fd)
    return _submit("close", _close, fd)


def access(path, mode):
    """access(2) in a daemon: the future's result is None if the real user
    may access ``path`` with ``mode`` (os.F_OK, R_OK, W_OK, X_OK), else it
    raises OSError with access(2)'s errno (PermissionError,
    FileNotFoundError...)."""
    path = _check_path("path", path)
    _check_int("mode", mode, 0)
    return _submit("access", _access, path, mode)


def stat(path):
    """stat(2) in a daemon; the future's result is an os.stat_result."""
    path = _check_path("path", path)
    return _submit("stat", _stat, path)


def fstat(fd):
    """fstat(2) in a daemon; the future's result is an os.stat_result."""
    _check_fd("fd", fd)
    return _submit("fstat", _fstat, fd)


def sendfile(out_fd, in_fd, offset, count):
    """sendfile(2) in a daemon, repeated until ``count`` bytes are sent or
    ``in_fd`` is at its end; the future's result is the number of bytes
    sent. ``offset`` None reads from (and moves) in_fd's file position.
    The daemon blocks: give it a blocking out_fd (a non-blocking one that
    is full fails with BlockingIOError)."""
    _check_fd("out_fd", out_fd)
    _check_fd("in_fd", in_fd)
    _check_offset("offset", offset, allow_none=True)
    _check_int("count", count, 0)
    return _submit("sendfile", _sendfile, out_fd, in_fd, offset, count)


def pread(fd, n, offset):
    """pread(2) of up to ``n`` bytes at ``offset`` in a daemon; the
    future's result is the bytes read (fewer at the end of the file)."""
    _check_fd("fd", fd)
    _check_int("n", n, 0, _INT_MAX)
    _check_offset("offset", offset)
    return _submit("pread", _pread, fd, n, offset)


def pwrite(fd, data, offset):
    """pwrite(2) of all of ``data`` (bytes-like, copied at the call) at
    ``offset`` in a daemon, repeated until it is all written; the future's
    result is len(data)."""
    _check_fd("fd", fd)
    data = _check_data("data", data)
    _check_offset("offset", offset)
    return _submit("pwrite", _pwrite, fd, data, offset)
