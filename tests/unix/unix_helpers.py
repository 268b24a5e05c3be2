"""Helpers for tests/unix (a module of its own: tests/conftest.py and this
directory's conftest.py would both be imported as "conftest")."""

import asyncio
import gc
import os
import time

from helpers import open_fds, zombies  # noqa: F401 (also for this folder's tests)


def wait_until(predicate, timeout=5.0):
    """Poll predicate() until it is true or timeout expires; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.01)


def assert_clean(fds_before, timeout=5.0):
    """No new descriptor and no zombie. Waits a little: asyncio's threaded
    child watcher (and our orphan reapers) reap from other threads."""
    def clean():
        gc.collect()
        return not (set(open_fds()) - set(fds_before)) and not zombies()
    if wait_until(clean, timeout):
        return
    leaked = {fd: path for fd, path in open_fds().items() if fd not in fds_before}
    assert not leaked, f"descriptors left open: {leaked}"
    assert not zombies(), f"zombie children: {zombies()}"


def run(loop, coro, timeout=60):
    """Run coro on loop with a safety timeout, return its result."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))
