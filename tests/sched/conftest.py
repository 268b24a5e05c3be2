"""Fixtures shared by the scheduler tests."""

import gc
import threading

import pytest

from helpers import open_fds, wait_for_threads


@pytest.fixture
def clean_exit():
    """The test must leave no thread and no descriptor behind."""
    threads = threading.active_count()
    fds = open_fds()
    yield
    assert wait_for_threads(threads) == threads, threading.enumerate()
    gc.collect()
    leaked = {fd: t for fd, t in open_fds().items() if fds.get(fd) != t}
    assert not leaked, leaked
