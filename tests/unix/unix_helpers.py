"""Helpers for tests/unix (a module of its own: tests/conftest.py and this
directory's conftest.py would both be imported as "conftest")."""

import asyncio
import gc
import os
import time

from helpers import open_fds  # noqa: F401 (also for this folder's tests)


def zombies():
    """Pids of this process's children that have exited but not been reaped."""
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces and parens.
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] == "Z" and int(fields[1]) == me:
            found.append(int(name))
    return found


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
