"""Fixtures of the network tests: every test body runs on stock asyncio (the
oracle) and on aioloop, ids "asyncio" and "aioloop".

`run(coro_fn)` runs `coro_fn()` on a fresh loop made by the parametrised
factory, under a time limit, and fails the test if anything reached the
loop's exception handler that the test did not claim (`run.errors`). After
every test no descriptor may be left open that was not open before it.
"""

import asyncio
import gc
import os
import resource

import pytest

import aioloop

# Stock asyncio's Unix loop, named directly: asyncio.new_event_loop() would
# follow the current policy, which a test may have set to aioloop's.
LOOP_FACTORIES = {
    "asyncio": asyncio.SelectorEventLoop,
    "aioloop": aioloop.new_event_loop,
}


def open_fds():
    """The process's open descriptors: {fd: what it points to}."""
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass  # the descriptor listdir() itself used
    return fds


@pytest.fixture(params=list(LOOP_FACTORIES))
def loop_name(request):
    return request.param


@pytest.fixture
def loop_factory(loop_name):
    return LOOP_FACTORIES[loop_name]


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
    gc.collect()
    after = open_fds()
    leaked = {fd: t for fd, t in after.items() if before.get(fd) != t}
    assert not leaked, f"descriptors left open: {leaked}"


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
def unix_path(tmp_path):
    """A path for a Unix socket (short enough for sun_path)."""
    import tempfile
    d = tempfile.mkdtemp(prefix="aioloop-")
    path = os.path.join(d, "sock")
    yield path
    if os.path.exists(path):
        os.unlink(path)
    os.rmdir(d)
