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


class EventLoopPolicy(_asyncio.DefaultEventLoopPolicy):
    """An asyncio event loop policy whose loops are aioloop Loops.

    It is asyncio's default Unix policy but for the loop it makes, so code
    that still sets or gets a child watcher (deprecated in 3.12) keeps
    working; aioloop's loops never need one (they watch children by pidfd)."""

    def _loop_factory(self):
        return new_event_loop()

    def __repr__(self):
        return f"<{type(self).__module__}.{type(self).__qualname__}>"


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
