"""aioloop: a fast asyncio event loop in Cython, with a multi-threaded scheduler.

Three ways to use it::

    asyncio.run(main(), loop_factory=aioloop.new_event_loop)   # 3.12+
    aioloop.run(main())
    aioloop.install()   # or asyncio.set_event_loop_policy(aioloop.EventLoopPolicy())
"""

import sys as _sys

if not _sys.platform.startswith("linux"):
    raise ImportError("aioloop runs on Linux only: its loop is made of epoll, "
                      f"eventfd and pidfd, which {_sys.platform} does not have")

import asyncio as _asyncio

from ._core import DaemonPool, Loop
from .scheduler import (DispatchThreadError, Scheduler, Spawned,
                        current_scheduler, new_scheduler_loop as _new_loop,
                        sched, spawn, thread_index)
from .sync import Event, Queue, TaskBarrier, TaskLock
from .dial import (Announcement, Call, adial, announce, dial_connection,
                   netmkaddr, open_dial)
from .resolver import Resolver
from .retry import Retry
from . import daemon

__all__ = ("Loop", "new_event_loop", "EventLoopPolicy", "install", "run",
           "DaemonPool", "Scheduler", "Spawned", "DispatchThreadError", "spawn",
           "sched", "current_scheduler", "thread_index", "TaskBarrier",
           "TaskLock", "Queue", "Event", "adial", "open_dial", "dial_connection",
           "announce", "Announcement", "Call", "netmkaddr", "Resolver",
           "Retry", "daemon")
__version__ = "0.1.0"


def new_event_loop(threads=1, daemons=None):
    """Return a new aioloop Loop (not set as the current loop).

    With ``threads=N > 1`` it is loop 0 of a new Scheduler of N dispatch
    threads (the others start when it starts running; closing it shuts the
    scheduler down). ``daemons`` sizes the daemon pool (the default
    executor)."""
    return _new_loop(threads, daemons)


class EventLoopPolicy(_asyncio.DefaultEventLoopPolicy):
    """An asyncio event loop policy whose loops are aioloop Loops.

    ``EventLoopPolicy(threads=4)`` makes each new loop loop 0 of its own
    4-thread Scheduler. It is asyncio's default Unix policy but for the loop
    it makes, so code that still sets or gets a child watcher (deprecated in
    3.12) keeps working; aioloop's loops never need one (they watch children
    by pidfd)."""

    def __init__(self, threads=1, daemons=None):
        super().__init__()
        from .scheduler import _check_count
        _check_count("threads", threads)
        if daemons is not None:
            _check_count("daemons", daemons)
        self._threads = threads
        self._daemons = daemons

    def _loop_factory(self):
        return new_event_loop(self._threads, self._daemons)

    def __repr__(self):
        return f"<{type(self).__module__}.{type(self).__qualname__}>"


def install():
    """Make aioloop the default: set an EventLoopPolicy as asyncio's policy."""
    _asyncio.set_event_loop_policy(EventLoopPolicy())


def run(main, *, threads=1, daemons=None, debug=None, **runner_kwargs):
    """Run coroutine `main` on a new aioloop Loop and return its result, like
    asyncio.run(): async generators and the default executor are shut down and
    the loop closed at the end. ``threads=N`` runs it on loop 0 of an N-thread
    Scheduler (shut down at the end). Extra keyword arguments go to
    asyncio.Runner (for example ``loop_factory`` to use a different factory)."""
    if _asyncio.events._get_running_loop() is not None:
        # asyncio.run()'s check and message, before a Runner exists: the
        # Runner would fail the same way, then fail again closing its loop.
        raise RuntimeError(
            "aioloop.run() cannot be called from a running event loop")
    if "loop_factory" not in runner_kwargs:
        from .scheduler import _check_count
        _check_count("threads", threads)   # at the call, not in the runner
        runner_kwargs["loop_factory"] = lambda: new_event_loop(threads, daemons)
    with _asyncio.Runner(debug=debug, **runner_kwargs) as runner:
        return runner.run(main)
