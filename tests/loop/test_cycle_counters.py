"""The run cycle's own counters (loop.stats()): passes, epoll_ctl calls and
the per-pass time of day that aio.now() reads; and the lazy removal of an fd
callback that aio's one-shot I/O builds on."""

import os
import time

import aioloop
from helpers import run_briefly


def test_passes_count_every_pass_of_the_run_cycle():
    loop = aioloop.new_event_loop()
    try:
        before = loop.stats()["passes"]
        run_briefly(loop, 3)
        assert loop.stats()["passes"] - before == 3
        assert loop._n_passes == loop.stats()["passes"]
    finally:
        loop.close()


def test_epoll_ctl_counts_each_registration_change():
    loop = aioloop.new_event_loop()
    r, w = os.pipe()
    try:
        before = loop.stats()["epoll_ctl"]
        loop.add_reader(r, print)           # ADD
        loop.add_writer(r, print)           # MOD
        loop.remove_writer(r)               # MOD
        loop.remove_reader(r)               # DEL
        assert loop.stats()["epoll_ctl"] - before == 4
    finally:
        loop.close()
        os.close(r)
        os.close(w)


def test_a_lazy_removal_keeps_the_registration_until_an_event_finds_nothing():
    loop = aioloop.new_event_loop()
    r, w = os.pipe()
    try:
        before = loop.stats()["epoll_ctl"]
        loop.add_reader(r, print)
        assert loop._remove_fd_callback_lazily(r, True) is True
        assert loop._remove_fd_callback_lazily(r, True) is False
        assert loop.stats()["epoll_ctl"] - before == 1     # the ADD only
        os.write(w, b"x")
        run_briefly(loop, 2)                # the event finds no reader: dropped
        assert loop.stats()["epoll_ctl"] - before == 2
    finally:
        loop.close()
        os.close(r)
        os.close(w)


def test_the_time_of_day_is_read_once_per_pass_when_asked_for():
    loop = aioloop.new_event_loop()
    try:
        assert loop._cached_wall_clock() is None
        run_briefly(loop)
        assert loop.stats()["wall_clock_reads"] == 0
        t0 = time.time()
        loop._set_wall_clock_cache(True)
        assert t0 <= loop._cached_wall_clock() <= time.time()
        reads = loop.stats()["wall_clock_reads"]
        passes = loop.stats()["passes"]
        seen = []
        loop.call_soon(lambda: seen.extend([loop._cached_wall_clock()] * 2))
        run_briefly(loop, 2)
        assert seen[0] == seen[1]
        assert (loop.stats()["wall_clock_reads"] - reads ==
                loop.stats()["passes"] - passes)
        loop._set_wall_clock_cache(False)
        reads = loop.stats()["wall_clock_reads"]
        run_briefly(loop, 2)
        assert loop.stats()["wall_clock_reads"] == reads
    finally:
        loop.close()
