"""aio's state is process-wide: every test leaves it idle, with no thread
and no descriptor left behind."""

import gc
import threading

import pytest

from aioloop import aio
from aioloop.aio import _life
from helpers import open_fds, wait_for_threads


def _make_idle():
    # A test that failed between ainit() and amain() leaves aio configured.
    if _life.running_scheduler() is not None and _life._state == "configured":
        aio.aexit()
        aio.amain()


@pytest.fixture(autouse=True)
def clean_aio():
    _make_idle()
    threads = threading.active_count()
    fds = open_fds()
    yield
    _make_idle()
    assert _life.running_scheduler() is None
    assert wait_for_threads(threads) == threads, threading.enumerate()
    gc.collect()
    leaked = {fd: t for fd, t in open_fds().items() if fds.get(fd) != t}
    assert not leaked, leaked
