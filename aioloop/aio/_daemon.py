"""libaio's AIO daemon operations, callback style: ``aio.fsync(errh, fd)``.

Every operation runs one blocking call on the scheduler's daemon pool (D
threads, one FIFO queue, the GIL released around the system call) and
reports in a new task:

- ``errh(0)`` on success, ``errh(errno)`` on failure, as libaio's
  ErrHandler; an operation with a result handler (``open``'s fdh, ``stat``'s
  stath, ``pread``'s datah, ``sendfile``'s optional senth) calls it with the
  result *instead of* errh(0), as libaio's open does with its FdHandler:
  exactly one of the two handlers runs, once.
- The task runs on the requesting thread: from a dispatch thread, on that
  thread's loop; from any other thread (a plain thread, or before amain()),
  on a dispatch thread the scheduler picks. It runs in a copy of the
  requester's contextvars context.
- A handler that raises goes to its loop's exception handler; the dispatch
  thread goes on.
- Accepted requests are always answered: one still queued when the
  scheduler shuts down gets errh(errno.ECANCELED) (the pool cancels it while
  the loops still run); a descriptor opened for nobody is closed.

The operations work from any thread between ``ainit`` and ``aexit``; before
``ainit``, after ``aexit`` or once amain() has returned, they raise
RuntimeError. Bad arguments raise TypeError or ValueError naming the
argument, at the call.

Thread contract: a request (_Request) is immutable after it is made; its
future is completed by the pool and read by the one loop callback that
delivers it. No other state is shared.
"""

import contextvars as _contextvars
from asyncio import events as _events
from asyncio import get_running_loop as _get_running_loop
import errno as _errno
import logging as _logging

from .. import daemon as _d
from . import _life

__all__ = ("fsync", "open", "close", "access", "stat", "fstat", "sendfile",
           "pread", "pwrite")

_logger = _logging.getLogger("aioloop")


def _scheduler(op):
    sched = _life.require_open(op)
    if sched._core.is_closed():
        raise RuntimeError(f"aio.{op}(): aioloop.aio is shutting down "
                           "(aexit() was called)")
    return sched


class _Request:
    __slots__ = ("op", "sched", "errh", "resh", "convert", "context")

    def __init__(self, op, sched, errh, resh, convert):
        self.op = op
        self.sched = sched
        self.errh = errh
        self.resh = resh
        self.convert = convert
        self.context = _contextvars.copy_context()

    # -- on a loop of the scheduler: the new task --

    def deliver(self, fut):
        if fut.cancelled():
            self._call(self.errh, _errno.ECANCELED)
            return
        exc = fut.exception()
        if exc is None:
            result = fut.result()
            if self.convert is not None:
                result = self.convert(result)
            if self.resh is None:
                self._call(self.errh, 0)
            else:
                self._call(self.resh, result)
        elif isinstance(exc, OSError) and exc.errno:
            self._call(self.errh, exc.errno)
        else:
            # Not the kernel's answer (the arguments were checked at the
            # call): report it, and still tell the requester.
            self._report(exc, f"aio.{self.op}() failed in its daemon", None)
            self._call(self.errh, _errno.EIO)

    def _call(self, fn, arg):
        try:
            fn(arg)
        except Exception as exc:
            self._report(exc, f"exception in a handler of aio.{self.op}()", fn)

    def _report(self, exc, message, handler):
        context = {"message": message, "exception": exc}
        if handler is not None:
            context["handler"] = handler
        _get_running_loop().call_exception_handler(context)

    # -- on the pool thread that completed (or cancelled) a plain thread's request --

    def forward(self, fut):
        try:
            self.sched.sched(self.deliver, fut, context=self.context)
            return
        except RuntimeError:
            pass        # the shutdown began: loop 0 still runs until it ends
        try:
            self.sched._loops[0].call_soon_threadsafe(self.deliver, fut,
                                                       context=self.context)
        except RuntimeError:
            # Every loop is closed: nobody is left to run the handler, and a
            # descriptor opened for it is closed here.
            if not fut.cancelled() and fut.exception() is None:
                result = fut.result()
                if isinstance(result, _d._OwnedFd):
                    result.close()
            _logger.error("aio.%s(): the scheduler closed before its handler "
                          "%r could run", self.op, self.errh)


def _request(op, errh, resh, convert, body, *args):
    sched = _scheduler(op)
    req = _Request(op, sched, errh, resh, convert)
    loop = _events._get_running_loop()
    index = (loop._aioloop_index
             if getattr(loop, "_aioloop_sched", None) is sched else -1)
    if index >= 0:
        # The requesting dispatch thread: the pool's short path, the result
        # comes back through this loop's inbox; the done callback is the
        # new task on this thread.
        fut = sched._loops[index].run_in_executor(sched._pool, body, *args)
        fut.add_done_callback(req.deliver, context=req.context)
    else:
        fut = sched._pool.submit(body, *args)
        fut.add_done_callback(req.forward)


def fsync(errh, fd):
    """fsync(2) on ``fd``; errh(0) or errh(errno)."""
    _d._check_callable("errh", errh)
    _d._check_fd("fd", fd)
    _request("fsync", errh, None, None, _d._fsync, fd)


def open(errh, fdh, path, flags, mode=0o666):
    """open(2); fdh(fd) on success (not inheritable, as os.open), errh(errno)
    on failure."""
    _d._check_callable("errh", errh)
    _d._check_callable("fdh", fdh)
    path = _d._check_path("path", path)
    _d._check_int("flags", flags)
    _d._check_int("mode", mode, 0)
    _request("open", errh, fdh, _d._OwnedFd.take, _d._open, path, flags, mode)


def close(errh, fd):
    """close(2) on ``fd``; errh(0) or errh(errno)."""
    _d._check_callable("errh", errh)
    _d._check_fd("fd", fd)
    _request("close", errh, None, None, _d._close, fd)


def access(errh, path, mode):
    """access(2) of ``path`` for ``mode`` (os.F_OK, R_OK, W_OK, X_OK) by the
    real user; errh(0) if allowed, else errh(errno)."""
    _d._check_callable("errh", errh)
    path = _d._check_path("path", path)
    _d._check_int("mode", mode, 0)
    _request("access", errh, None, None, _d._access, path, mode)


def stat(errh, stath, path):
    """stat(2); stath(os.stat_result) on success, errh(errno) on failure."""
    _d._check_callable("errh", errh)
    _d._check_callable("stath", stath)
    path = _d._check_path("path", path)
    _request("stat", errh, stath, None, _d._stat, path)


def fstat(errh, stath, fd):
    """fstat(2); stath(os.stat_result) on success, errh(errno) on failure."""
    _d._check_callable("errh", errh)
    _d._check_callable("stath", stath)
    _d._check_fd("fd", fd)
    _request("fstat", errh, stath, None, _d._fstat, fd)


def sendfile(errh, out_fd, in_fd, offset, count, *, senth=None):
    """sendfile(2) of ``count`` bytes of ``in_fd`` from ``offset`` (None: its
    file position) to ``out_fd``, repeated until all are sent or in_fd is
    at its end. errh(0) on success, or senth(bytes sent) instead if given;
    errh(errno) on failure. Give the daemon a blocking out_fd."""
    _d._check_callable("errh", errh)
    _d._check_fd("out_fd", out_fd)
    _d._check_fd("in_fd", in_fd)
    _d._check_offset("offset", offset, allow_none=True)
    _d._check_int("count", count, 0)
    _d._check_callable("senth", senth, optional=True)
    _request("sendfile", errh, senth, None, _d._sendfile, out_fd, in_fd,
             offset, count)


def pread(errh, datah, fd, n, offset):
    """pread(2) of up to ``n`` bytes at ``offset``; datah(bytes) on success
    (fewer bytes at the end of the file), errh(errno) on failure."""
    _d._check_callable("errh", errh)
    _d._check_callable("datah", datah)
    _d._check_fd("fd", fd)
    _d._check_int("n", n, 0, _d._INT_MAX)
    _d._check_offset("offset", offset)
    _request("pread", errh, datah, None, _d._pread, fd, n, offset)


def pwrite(errh, fd, data, offset):
    """pwrite(2) of all of ``data`` (bytes-like, copied at the call) at
    ``offset``; errh(0) once it is all written, errh(errno) on failure."""
    _d._check_callable("errh", errh)
    _d._check_fd("fd", fd)
    data = _d._check_data("data", data)
    _d._check_offset("offset", offset)
    _request("pwrite", errh, None, None, _d._pwrite, fd, data, offset)
