"""Fixtures of the network tests. Every test body runs on stock asyncio (the
oracle) and on aioloop through tests/conftest.py's `loop_name` and
`loop_factory` fixtures (ids "asyncio" and "aioloop").

`run(coro_fn)` runs `coro_fn()` on a fresh loop made by the parametrised
factory, under a time limit, and fails the test if anything reached the
loop's exception handler that the test did not claim (`run.errors`). After
every test no descriptor may be left open that was not open before it.
"""

import asyncio
import os
import resource
import tempfile

import pytest

from helpers import assert_no_fd_leak, open_fds


class Runner:
    """Runs coroutines on fresh loops of one kind; records what reaches the
    loop's exception handler in `errors` (a test that expects errors takes
    them out of the list)."""

    def __init__(self, factory, name):
        self.factory = factory
        self.name = name
        self.errors = []
        self.loop = None

    def _make_loop(self):
        loop = self.factory()
        loop.set_exception_handler(lambda lp, ctx: self.errors.append(ctx))
        self.loop = loop
        return loop

    def __call__(self, coro_fn, *args, timeout=20):
        async def limited():
            return await asyncio.wait_for(coro_fn(*args), timeout)
        with asyncio.Runner(loop_factory=self._make_loop) as runner:
            try:
                return runner.run(limited())
            finally:
                self.loop = None


@pytest.fixture
def run(loop_factory, loop_name):
    runner = Runner(loop_factory, loop_name)
    yield runner
    assert not runner.errors, f"unexpected calls of the exception handler: {runner.errors}"


@pytest.fixture(autouse=True)
def no_fd_leak():
    """No test may leave a descriptor open (sockets, epoll, files)."""
    before = open_fds()
    yield
    assert_no_fd_leak(before)


@pytest.fixture
def nofile_at_least():
    """raise_to(n): make sure the soft RLIMIT_NOFILE is at least n (skip if
    the hard limit forbids it); restored after the test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def raise_to(n):
        if soft >= n:
            return
        if hard != resource.RLIM_INFINITY and hard < n:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {n}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))

    yield raise_to
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def unix_path():
    """A path for a Unix socket (short enough for sun_path)."""
    d = tempfile.mkdtemp(prefix="aioloop-")
    path = os.path.join(d, "sock")
    yield path
    if os.path.exists(path):
        os.unlink(path)
    os.rmdir(d)
