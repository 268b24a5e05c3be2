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
import signal

import pytest

import aioloop
from unix_helpers import assert_clean, open_fds

LOOP_FACTORIES = {
    # Named directly: asyncio.new_event_loop() would follow the current
    # policy, which a test may have set to aioloop's.
    "asyncio": asyncio.SelectorEventLoop,
    "aioloop": aioloop.new_event_loop,
}

WATCHED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1,
                   signal.SIGUSR2, signal.SIGCHLD, signal.SIGHUP)


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
