"""Helpers of the signal and process tests of aioloop.aio (a module of its
own name: tests in other folders have their own helpers and conftests)."""

import gc
import os
import signal
import threading
import time

import pytest

from aioloop import aio
from aioloop.aio import _life
from helpers import open_fds, zombies

WATCHED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1,
                   signal.SIGUSR2, signal.SIGCHLD, signal.SIGHUP)


def wait_until(predicate, timeout=10.0):
    """Poll predicate() until true or timeout; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.005)


def _expire():
    try:
        aio.aexit("timeout")
    except RuntimeError:
        pass


def run_aio(start, *, threads=2, hint=None, timeout=20.0):
    """ainit(threads, 1), run start() on the scheduler (on thread `hint` if
    given), amain() until aexit; return (status, errors): the status given
    to aexit ("timeout" if nothing called it within `timeout` seconds) and
    the contexts every dispatch loop's exception handler received."""
    errors = []
    aio.ainit(threads, 1)
    sched = _life.require()
    sched.set_exception_handler(lambda loop, ctx: errors.append(ctx))
    sched.sched(start, hint=hint)
    watchdog = threading.Timer(timeout, _expire)
    watchdog.start()
    try:
        status = aio.amain()
    finally:
        watchdog.cancel()
        watchdog.join()
    return status, errors


def _dispositions():
    return {sig: signal.getsignal(sig) for sig in WATCHED_SIGNALS}


@pytest.fixture
def aio_clean():
    """Every test leaves aio idle, and no descriptor, zombie, thread, signal
    disposition or wakeup fd behind."""
    for sig, handler in _dispositions().items():
        if handler is signal.SIG_IGN:       # inherited (nohup): start from the default
            signal.signal(sig, signal.SIG_DFL)
    dispositions = _dispositions()
    wakeup = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(wakeup)
    fds = open_fds()
    threads = set(threading.enumerate())
    try:
        yield
    finally:
        if _life.running_scheduler() is not None:   # a test failed half-way
            try:
                aio.aexit("cleanup")
                aio.amain()
            except RuntimeError:
                pass
    assert _life.running_scheduler() is None

    def clean():
        gc.collect()
        return (set(open_fds()) <= set(fds) and not zombies()
                and set(threading.enumerate()) <= threads)
    wait_until(clean)
    leaked = {fd: path for fd, path in open_fds().items() if fd not in fds}
    assert not leaked, f"descriptors left open: {leaked}"
    assert not zombies(), f"zombie children: {zombies()}"
    assert set(threading.enumerate()) <= threads
    assert _dispositions() == dispositions
    now = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(now)
    assert now == wakeup
