"""Fixtures for the Unix layer's tests (pipes, subprocesses, signals).

Stock asyncio is the oracle: a test taking the `loop` fixture runs once on
asyncio's Unix selector loop (id "asyncio") and once on aioloop (id
"aioloop"); a difference between the two runs is a bug in aioloop, unless
the test says which documented difference it pins.

After each test the fixture checks what the Unix layer could leak: no
descriptor left open (pipes, pidfds, the signal socketpair), no zombie child,
no signal disposition or wakeup fd left changed.
"""

import asyncio
import gc
import os
import signal
import time

import pytest

import aioloop

LOOP_FACTORIES = {
    # Named directly: asyncio.new_event_loop() would follow the current
    # policy, which a test may have set to aioloop's.
    "asyncio": asyncio.SelectorEventLoop,
    "aioloop": aioloop.new_event_loop,
}

WATCHED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1,
                   signal.SIGUSR2, signal.SIGCHLD, signal.SIGHUP)


def open_fds():
    """{fd: what it points to} for this process's open descriptors."""
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass            # the directory listing's own descriptor
    return fds


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


@pytest.fixture(params=list(LOOP_FACTORIES))
def loop_name(request):
    return request.param


@pytest.fixture
def loop_factory(loop_name):
    return LOOP_FACTORIES[loop_name]


@pytest.fixture
def loop(loop_factory):
    """A fresh loop of each kind, closed afterwards; the test fails if it
    leaves a descriptor, a zombie or a signal disposition behind."""
    dispositions = {sig: signal.getsignal(sig) for sig in WATCHED_SIGNALS}
    wakeup = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(wakeup)
    before = open_fds()
    lp = loop_factory()
    try:
        yield lp
    finally:
        if lp.is_running():     # pragma: no cover - a test went badly wrong
            lp.stop()
        if not lp.is_closed():
            lp.close()
        del lp
    assert_clean(before)
    assert {sig: signal.getsignal(sig) for sig in WATCHED_SIGNALS} == dispositions
    now = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(wakeup)
    assert now == wakeup, "the signal wakeup fd was left changed"
