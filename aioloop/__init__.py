"""aioloop: a fast asyncio event loop in Cython, with a multi-threaded scheduler.

Three ways to use it::

    asyncio.run(main(), loop_factory=aioloop.new_event_loop)   # 3.12+
    aioloop.run(main())
    aioloop.install()   # or asyncio.set_event_loop_policy(aioloop.EventLoopPolicy())
"""

import asyncio as _asyncio

from ._core import DaemonPool, Loop, new_event_loop

__all__ = ("Loop", "new_event_loop", "EventLoopPolicy", "install", "run", "DaemonPool")
__version__ = "0.1.0"


class EventLoopPolicy(_asyncio.events.BaseDefaultEventLoopPolicy):
    """An asyncio event loop policy whose loops are aioloop Loops."""

    def _loop_factory(self):
        return new_event_loop()

    def __repr__(self):
        return f"<{type(self).__module__}.{type(self).__qualname__}>"

    if hasattr(_asyncio, "AbstractChildWatcher"):     # Python < 3.14
        # asyncio's child watcher API (deprecated in 3.12, removed in 3.14).
        # aioloop's loops never consult a watcher: each watches its own
        # children (a pidfd per child, aioloop/unix/children.pyx). The policy
        # keeps one for code written against asyncio's Unix policy, which
        # calls asyncio.get_child_watcher()/set_child_watcher() or registers
        # children it spawned itself with add_child_handler().
        _watcher = None

        def get_child_watcher(self):
            """The watcher set with set_child_watcher(), else a
            ThreadedChildWatcher (it works with any loop). aioloop's own
            subprocesses do not use it."""
            if self._watcher is None:
                self._watcher = _asyncio.ThreadedChildWatcher()
            return self._watcher

        def set_child_watcher(self, watcher):
            """Replace the policy's watcher (closing the previous one), as
            asyncio's Unix policy does. aioloop's own subprocesses do not use
            it."""
            assert watcher is None or isinstance(watcher, _asyncio.AbstractChildWatcher)
            if self._watcher is not None:
                self._watcher.close()
            self._watcher = watcher


def install():
    """Make aioloop the default: set an EventLoopPolicy as asyncio's policy."""
    _asyncio.set_event_loop_policy(EventLoopPolicy())


def run(main, *, debug=None, **runner_kwargs):
    """Run coroutine `main` on a new aioloop Loop and return its result, like
    asyncio.run(): async generators and the default executor are shut down and
    the loop closed at the end. Extra keyword arguments go to asyncio.Runner
    (for example ``loop_factory`` to use a different aioloop factory)."""
    runner_kwargs.setdefault("loop_factory", new_event_loop)
    with _asyncio.Runner(debug=debug, **runner_kwargs) as runner:
        return runner.run(main)
