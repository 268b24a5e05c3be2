"""Fixtures for the Unix layer's tests (pipes, subprocesses, signals).

The loop fixtures are tests/conftest.py's: a test taking `loop` runs once on
asyncio's Unix selector loop (id "asyncio", the oracle) and once on aioloop
(id "aioloop"); a difference between the two runs is a bug in aioloop,
unless the test says which documented difference it pins.

Here `loop` also checks, once the loop is closed, what the Unix layer could
leak: no zombie child, no signal disposition or wakeup fd left changed, and
no descriptor left open (pipes, pidfds, the signal socketpair), waiting a
little for children reaped from other threads.
"""

import signal

import pytest

from unix_helpers import assert_clean, open_fds

WATCHED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1,
                   signal.SIGUSR2, signal.SIGCHLD, signal.SIGHUP)


@pytest.fixture
def unix_state_restored():
    """Fails the test if it leaves a zombie, a descriptor, a signal
    disposition or the signal wakeup fd behind."""
    # remove_signal_handler() restores SIG_DFL on both loops (asyncio's rule),
    # not what the process inherited: under `nohup` SIGHUP starts ignored.
    # Each test starts from the defaults; the inherited ones come back after.
    inherited = {sig: signal.getsignal(sig) for sig in WATCHED_SIGNALS}
    for sig, handler in inherited.items():
        if handler is signal.SIG_IGN:
            signal.signal(sig, signal.SIG_DFL)
    dispositions = {sig: signal.getsignal(sig) for sig in WATCHED_SIGNALS}
    wakeup = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(wakeup)
    before = open_fds()
    try:
        yield
        assert_clean(before)
        assert {sig: signal.getsignal(sig) for sig in WATCHED_SIGNALS} == dispositions
        now = signal.set_wakeup_fd(-1)
        signal.set_wakeup_fd(wakeup)
        assert now == wakeup, "the signal wakeup fd was left changed"
    finally:
        for sig, handler in inherited.items():
            if handler is signal.SIG_IGN:
                signal.signal(sig, handler)


@pytest.fixture
def loop(unix_state_restored, loop):
    """tests/conftest.py's `loop`. Requested after unix_state_restored, it is
    closed before that fixture's checks run."""
    return loop
