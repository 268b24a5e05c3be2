"""stop() and close() against results arriving from other threads: a loop
that stops in the pass where a result arrives keeps the callbacks that result
schedules for the next run; asyncio.run() delivers executor work still in
flight when main returns; close() drops what is still queued, as asyncio
does, and leaks nothing. Each test runs on stock asyncio and on aioloop.

CI runs a bounded number of rounds; `AIOLOOP_STRESS=20` runs more.
"""

import asyncio
import gc
import logging
import os
import random
import threading
import time
import weakref
from collections import Counter

import pytest

from helpers import run_briefly, wait_for_threads

SCALE = int(os.environ.get("AIOLOOP_STRESS", "1"))


def test_stop_in_the_pass_a_threadsafe_result_arrives_keeps_its_callbacks(loop):
    # The loop is busy in `post_both` while another thread posts a future's
    # result and then stop(): the next pass takes both. set_result queues the
    # done callbacks for the pass after, which this run does not reach; the
    # next run runs them, once.
    for r in range(50 * SCALE):
        fut = loop.create_future()
        ran = []
        fut.add_done_callback(lambda f: ran.append(f.result()))

        def post_both():
            t = threading.Thread(target=lambda: (
                loop.call_soon_threadsafe(fut.set_result, r),
                loop.call_soon_threadsafe(loop.stop)))
            t.start()
            t.join()

        loop.call_soon(post_both)
        loop.run_forever()
        assert fut.done() and ran == []
        run_briefly(loop)
        assert ran == [r]
        run_briefly(loop, 2)
        assert ran == [r]


def test_stops_racing_executor_results_lose_and_repeat_no_done_callback(loop):
    # Executor results and stop requests from another thread arrive in every
    # interleaving; the test restarts the loop after each stop until every
    # done callback (and a callback it schedules) has run, each exactly once.
    n = 200 * SCALE
    rng = random.Random(1)
    delays = [rng.random() * 0.0005 for _ in range(n)]
    first, second = Counter(), Counter()
    finished = threading.Event()

    def done(f):
        first[f.result()] += 1
        loop.call_soon(lambda k=f.result(): second.update([k]))

    def stopper():
        srng = random.Random(2)
        while not finished.is_set():
            loop.call_soon_threadsafe(loop.stop)
            time.sleep(srng.random() * 0.001)

    for k in range(n):
        loop.run_in_executor(None, lambda k=k: (time.sleep(delays[k]), k)[1]
                             ).add_done_callback(done)
    t = threading.Thread(target=stopper)
    t.start()
    deadline = time.monotonic() + 60
    try:
        while len(second) < n:
            assert time.monotonic() < deadline, (n - len(first), n - len(second))
            loop.run_forever()
    finally:
        finished.set()
        t.join()
    run_briefly(loop, 3)        # the stopper's last request, and any repeat
    assert first == second == Counter(range(n))
    loop.run_until_complete(loop.shutdown_default_executor())


def test_asyncio_run_delivers_executor_work_still_in_flight_when_main_returns(
        loop_factory):
    # main returns while jobs run and more wait for a worker (12 jobs, at
    # most 6 workers here): Runner.close() shuts the default executor down,
    # waiting for all of them, while the loop runs. Each done callback runs,
    # and so does a callback it schedules (the pass after: asyncio's loop
    # stops one pass later still).
    for r in range(20 * SCALE):
        rng = random.Random(r)
        first, second = Counter(), Counter()

        def done(f):
            first[f.result()] += 1
            asyncio.get_running_loop().call_soon(second.update, [f.result()])

        async def main():
            loop = asyncio.get_running_loop()
            for k in range(12):
                d = rng.random() * 0.002
                loop.run_in_executor(None, lambda k=k, d=d: (time.sleep(d), k)[1]
                                     ).add_done_callback(done)
            await asyncio.sleep(rng.random() * 0.001)

        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(main())
        assert first == second == Counter(range(12)), r


def test_close_drops_queued_callbacks_as_asyncio_does(loop, loop_name):
    # What is queued at close() is dropped: callbacks posted from another
    # thread while the last pass ran, one that pass scheduled, the rest of a
    # flood a pass took only in part (aioloop takes 1024 per pass; asyncio
    # all), and posts made while the loop is stopped. None of them runs,
    # their arguments are freed, posting again raises, and the loop fixture
    # checks that no descriptor is left open.
    class Arg:
        pass

    ran = []
    args = [Arg() for _ in range(3500)]
    refs = [weakref.ref(a) for a in args]

    def post(part):
        for a in part:
            loop.call_soon_threadsafe(ran.append, a)

    def last_pass():
        t = threading.Thread(target=post, args=(args[:3000],))
        t.start()
        t.join()
        loop.call_soon(ran.append, Arg())
        loop.stop()

    loop.call_soon(last_pass)
    loop.run_forever()
    assert ran == []
    run_briefly(loop)                   # a flood, taken in part or whole
    taken = len(ran)
    # aioloop takes a batch of 1024 from its inbox per pass, asyncio all.
    assert taken == {"aioloop": 1025, "asyncio": 3001}[loop_name]
    t = threading.Thread(target=post, args=(args[3000:],))
    t.start()
    t.join()
    loop.call_soon(ran.append, Arg())   # ready, never run
    loop.close()
    assert len(ran) == taken
    del args, ran[:]
    gc.collect()
    assert [r for r in refs if r() is not None] == []
    with pytest.raises(RuntimeError, match="closed"):
        loop.call_soon_threadsafe(print)


def test_close_with_executor_work_running_drops_its_result_quietly(
        loop_factory, caplog):
    # close() shuts the default executor down without waiting, as asyncio:
    # the job finishes afterwards, its result goes nowhere, nothing is
    # logged, and its worker thread ends.
    baseline = threading.active_count()
    release = threading.Event()
    started = threading.Event()
    ran = []
    loop = loop_factory()
    try:
        def job():
            started.set()
            release.wait(10)
            return 1

        fut = loop.run_in_executor(None, job)
        fut.add_done_callback(ran.append)
        while not started.is_set():
            run_briefly(loop)
    finally:
        loop.close()
    with caplog.at_level(logging.DEBUG):
        release.set()
        assert wait_for_threads(baseline) == baseline
        gc.collect()
    assert ran == [] and not fut.done()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
