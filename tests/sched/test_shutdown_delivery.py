"""Completions that reach a dispatch loop during the Scheduler's shutdown run
their done callbacks, on every thread, exactly once.

The shutdown stops loops 1..N-1 after the daemon pool is joined. A pool
completion ("set this future's result") that the loop takes in the same pass
as its stop request queues the future's done callbacks for the next pass;
the loop must still run that pass (and the one after, as asyncio.run does
for loop 0) before it is closed.

CI runs a bounded number of rounds; `AIOLOOP_STRESS=20` runs more.
"""

import asyncio
import os
import random
import threading
import time
from collections import Counter

import pytest

import aioloop
from aioloop import daemon

SCALE = int(os.environ.get("AIOLOOP_STRESS", "1"))


def _hold_until_inbox(n, timeout=5.0):
    # In a callback: keep the running loop busy until `n` callbacks wait in
    # its inbox, so that its next pass takes them all together.
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout
    while loop.stats()["inbox"] < n and time.monotonic() < deadline:
        time.sleep(0.001)


@pytest.mark.parametrize("hint", [0, 1])
def test_a_completion_taken_with_the_stop_request_still_runs_its_done_callback(
        clean_exit, hint):
    # One daemon: job B runs, blocked on `release`; job C waits behind it.
    # The shutdown's pool step cancels C; C's done callback releases B and
    # holds its loop until B's completion and the next shutdown message (on
    # thread 1 the stop request; on thread 0 the pool's end) are both in its
    # inbox, so its next pass takes B's completion and that message together.
    done = []
    started = threading.Event()
    release = threading.Event()

    def job_b():
        started.set()
        return release.wait(10)

    def on_b(fut):
        done.append(("B", fut.result(), aioloop.thread_index()))

    def on_c(fut):
        done.append(("C", fut.cancelled(), aioloop.thread_index()))
        release.set()
        _hold_until_inbox(2)

    async def submit():
        loop = asyncio.get_running_loop()
        loop.run_in_executor(None, job_b).add_done_callback(on_b)
        loop.run_in_executor(None, int).add_done_callback(on_c)
        while not started.is_set():      # B runs, C is queued
            await asyncio.sleep(0.001)

    async def main(s):
        await s.spawn(submit(), hint=hint)

    with aioloop.Scheduler(threads=2, daemons=1) as s:
        s.run(main(s))
    assert done == [("C", True, hint), ("B", True, hint)]


def _open_devnull_done(record, key):
    def cb(fut):
        if not fut.cancelled():
            os.close(fut.result())
        record(key)
    return cb


def test_every_done_callback_of_work_in_flight_at_shutdown_runs_once(clean_exit):
    # Each round: on every dispatch thread, executor jobs of random length
    # (some still running, some queued, when main returns), an
    # aioloop.daemon.open() (its future is completed by a done callback of
    # the inner one: two passes after the pool's completion), and
    # Scheduler.sched work still queued at shutdown that submits more.
    threads = 3
    rounds = 100 * SCALE
    for r in range(rounds):
        rng = random.Random(r)
        lock = threading.Lock()
        expected = []
        ran = Counter()

        def record(key):
            with lock:
                ran[key] += 1
            # A slow done callback keeps its loop busy while the pool's last
            # completions and the stop request arrive: its next pass then
            # takes them together (the case that lost callbacks).
            time.sleep(0.001)

        def submit_jobs(tag, n, delays):
            loop = asyncio.get_running_loop()
            for k in range(n):
                key = (tag, aioloop.thread_index(), k)
                with lock:
                    expected.append(key)
                fut = loop.run_in_executor(None, time.sleep, delays[k])
                fut.add_done_callback(lambda f, key=key: record(key))
            key = (tag, aioloop.thread_index(), "open")
            with lock:
                expected.append(key)
            daemon.open(os.devnull, os.O_RDONLY).add_done_callback(
                _open_devnull_done(record, key))

        async def on_thread(i):
            submit_jobs(("spawn", i), 4, [rng.random() * 0.003 for _ in range(4)])

        async def main(s):
            await asyncio.gather(*(s.spawn(on_thread(i), hint=i)
                                   for i in range(threads)))
            for i in range(threads):
                s.sched(submit_jobs, ("sched", i), 2, [0.001, 0.0], hint=i)
            await asyncio.sleep(rng.random() * 0.002)

        with aioloop.Scheduler(threads=threads, daemons=2) as s:
            s.run(main(s))
        assert ran == Counter(expected), (r, set(expected) - set(ran))
