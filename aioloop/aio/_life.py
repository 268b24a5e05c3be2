"""The life cycle of the callback-style API: ainit, amain, aexit.

One process-wide Scheduler, as libaio's: ``ainit`` makes it, ``amain`` runs
it with the caller as dispatch thread 0 until ``aexit``, and every other
name of ``aioloop.aio`` reaches it through ``require()``.

Thread contract: ``_lock`` (a threading.Lock) guards ``_state``,
``_sched``, ``_status``, ``_exit_requested`` and ``_exit_future``; it is
held for a few statements that never call user code. ``require()`` reads
``_sched`` under it and returns it: the Scheduler itself is thread-safe.

States: idle -> configured (ainit) -> running (amain) -> idle (amain
returns). ``aexit`` in configured or running state asks amain to end: the
Scheduler's shutdown protocol runs (accepted work runs or its submitter is
told) and amain returns the status. An aexit before amain makes amain
return at once, after that shutdown.
"""

import asyncio as _asyncio
import os as _os
import threading as _threading

from ..scheduler import Scheduler as _Scheduler, _check_count

__all__ = ("ainit", "amain", "aexit", "require", "require_open",
           "running_scheduler")

_lock = _threading.Lock()
_state = "idle"
_sched = None
_status = None
_exit_requested = False
_exit_future = None     # (loop 0, future) while amain runs


def ainit(nthr=None, naiod=4):
    """Configure the scheduler: ``nthr`` dispatch threads (default
    ``os.cpu_count()``), ``naiod`` daemon threads. RuntimeError if it is
    already configured or running."""
    global _state, _sched, _status, _exit_requested
    if nthr is None:
        nthr = _os.cpu_count() or 1
    _check_count("nthr", nthr)
    _check_count("naiod", naiod)
    with _lock:
        if _state != "idle":
            raise RuntimeError(f"aio is already {_state}: call aexit() and let "
                               "amain() return first")
        _sched = _Scheduler(threads=nthr, daemons=naiod)
        _state = "configured"
        _status = None
        _exit_requested = False


async def _wait_for_exit():
    global _exit_future
    loop = _asyncio.get_running_loop()
    fut = loop.create_future()
    with _lock:
        if _exit_requested:
            return _status
        _exit_future = (loop, fut)
    try:
        return await fut
    finally:
        with _lock:
            _exit_future = None


def amain():
    """Run the dispatch threads, the caller as thread 0, until ``aexit``;
    return the status given to it."""
    global _state, _sched
    with _lock:
        if _state != "configured":
            raise RuntimeError("amain() needs ainit() first" if _state == "idle"
                               else "amain() is already running")
        _state = "running"
        sched = _sched
    try:
        return sched.run(_wait_for_exit())
    finally:
        with _lock:
            _state = "idle"
            _sched = None


def aexit(status=None):
    """End amain(), which returns ``status``; from any thread or callback."""
    global _status, _exit_requested
    with _lock:
        if _state == "idle":
            raise RuntimeError("aexit() without ainit(), or after amain() "
                               "has returned")
        if _exit_requested:
            return
        _exit_requested = True
        _status = status
        waiting = _exit_future
    if waiting is not None:
        loop, fut = waiting
        loop.call_soon_threadsafe(_set_once, fut, status)


def _set_once(fut, value):
    if not fut.done():
        fut.set_result(value)


def require():
    """The configured or running Scheduler; RuntimeError before ainit() or
    after amain() has returned."""
    with _lock:
        if _state == "idle":
            raise RuntimeError("aioloop.aio is not initialised: call aio.ainit() "
                               "first (or aio.amain() has returned)")
        return _sched


def require_open(op=None):
    """As require(), and RuntimeError once aexit() was called: amain() is
    ending, and no new work is taken (the Scheduler's shutdown runs what it
    had accepted). `op` names the refused call in the message."""
    where = f"aio.{op}(): " if op else ""
    with _lock:
        if _state == "idle":
            raise RuntimeError(f"{where}aioloop.aio is not initialised: call "
                               "aio.ainit() first (or aio.amain() has returned)")
        if _exit_requested:
            raise RuntimeError(f"{where}aioloop.aio is exiting: aio.aexit() was "
                               "called, no new work is taken")
        return _sched


def running_scheduler():
    """The Scheduler, or None when aio is idle."""
    with _lock:
        return _sched
