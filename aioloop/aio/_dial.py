"""Dialing in callback style: aio.adial(fdh, addr, errh=...), libaio's
adial(resolver, fdhandler, addr, ...), over the asyncio style's
aioloop.adial (one implementation: Plan 9 dial strings, dnspython on the
loop, happy eyeballs).

The dial runs as a task on a dispatch thread (``hint``'s, else the calling
dispatch thread's, else, from a plain thread, loop 0's) and its handler
runs there, with the connected non-blocking socket: ``fdh(sock)``. A
failure calls ``errh(errno)``: the kernel's errno for a refused or
unreachable connection, ETIMEDOUT when ``timeout`` ran out, and
EADDRNOTAVAIL when the name did not resolve (getaddrinfo's EAI_* codes are
not errnos). Without errh, a failure goes to the loop's exception handler.
A bad dial string raises ValueError at the call.

No state is shared: each dial is one task of its own.
"""

import asyncio as _asyncio
import errno as _errno
import socket as _socket

from .. import dial as _dial
from ._state import check_callable, check_hint, require_open
from ..scheduler import thread_index as _thread_index

__all__ = ("adial",)


def _errno_of(exc):
    if isinstance(exc, TimeoutError):
        return _errno.ETIMEDOUT
    if isinstance(exc, _socket.gaierror):
        return _errno.EADDRNOTAVAIL
    if isinstance(exc, OSError) and isinstance(exc.errno, int) and exc.errno > 0:
        return exc.errno
    return None


def adial(fdh, addr, *, errh=None, local=None, timeout=None, resolver=None, hint=None):
    """Dial `addr` (a dial string such as ``"tcp!host!port"``) and call
    ``fdh(sock)`` with the connected socket, or ``errh(errno)``; returns at
    once."""
    check_callable("fdh", fdh)
    if errh is not None:
        check_callable("errh", errh)
    check_hint(hint)
    _dial.parse_dial(addr)      # a bad string fails here, not in the task
    if timeout is not None and (isinstance(timeout, bool) or
                                not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ValueError(f"timeout must be a positive number, got {timeout!r}")
    sched = require_open("adial")
    if hint is None:
        hint = _thread_index() if _thread_index() is not None else 0

    async def dial():
        loop = _asyncio.get_running_loop()
        try:
            sock = await _dial.adial(addr, local=local, timeout=timeout, resolver=resolver)
        except Exception as exc:
            err = _errno_of(exc)
            if errh is None or err is None:
                loop.call_exception_handler({
                    "message": f"aio.adial({addr!r}) failed", "exception": exc})
                if errh is None:
                    return
                err = _errno.EIO
            _call(loop, errh, err, "errh")
            return
        _call(loop, fdh, sock, "fdh")

    sched.spawn(dial(), hint=hint, name=f"aio.adial {addr}")


def _call(loop, fn, arg, name):
    try:
        fn(arg)
    except Exception as exc:
        loop.call_exception_handler({
            "message": f"exception in aio.adial's {name}", "exception": exc})
