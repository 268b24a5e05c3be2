"""call_soon_threadsafe from other threads: nothing lost, nothing doubled,
each thread's calls in its own order, and a sleeping loop wakes promptly."""

import asyncio
import threading
import time

import pytest

import aioloop
from helpers import run_briefly

N_THREADS = 4
N_CALLS = 5000


def _hammer(loop, n_threads, n_calls, pause_every=0):
    """n_threads threads each post n_calls callbacks; the loop runs until all
    arrived. Returns {thread index: [call index, ...]} in the order run."""
    received = {t: [] for t in range(n_threads)}
    total = n_threads * n_calls
    count = 0
    start = threading.Barrier(n_threads + 1)

    def record(t, i):
        nonlocal count
        received[t].append(i)
        count += 1
        if count == total:
            loop.stop()

    def producer(t):
        start.wait()
        for i in range(n_calls):
            loop.call_soon_threadsafe(record, t, i)
            if pause_every and i % pause_every == 0:
                time.sleep(0.0005)  # let the loop fall asleep in between

    threads = [threading.Thread(target=producer, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    watchdog = loop.call_later(60, loop.stop)
    loop.call_soon(start.wait)
    loop.run_forever()
    watchdog.cancel()
    for th in threads:
        th.join()
    return received, count


def test_call_soon_threadsafe_from_several_threads_runs_every_call_once_in_per_thread_order(loop):
    received, count = _hammer(loop, N_THREADS, N_CALLS)
    assert count == N_THREADS * N_CALLS
    for t in range(N_THREADS):
        assert received[t] == list(range(N_CALLS))


def test_call_soon_threadsafe_wakes_a_loop_that_keeps_falling_asleep(loop):
    # Producers pause so the loop sleeps between bursts: every wake-up must
    # be delivered (a lost wake-up would hang until the 60 s watchdog).
    started = time.monotonic()
    received, count = _hammer(loop, 3, 400, pause_every=7)
    assert count == 3 * 400
    for t in range(3):
        assert received[t] == list(range(400))
    assert time.monotonic() - started < 30


def test_call_soon_threadsafe_wakes_a_sleeping_loop_promptly(loop):
    woke = []

    def poster():
        time.sleep(0.2)  # the loop is in an indefinite poll by now
        posted_at.append(time.monotonic())
        loop.call_soon_threadsafe(lambda: (woke.append(time.monotonic()), loop.stop()))

    posted_at = []
    watchdog = loop.call_later(30, loop.stop)
    th = threading.Thread(target=poster)
    th.start()
    loop.run_forever()
    th.join()
    watchdog.cancel()
    assert len(woke) == 1
    assert woke[0] - posted_at[0] < 2.0


def test_call_soon_threadsafe_from_another_thread_before_run_is_kept(loop):
    trace = []
    th = threading.Thread(target=lambda: [loop.call_soon_threadsafe(trace.append, i) for i in range(100)])
    th.start()
    th.join()
    run_briefly(loop)
    assert trace == list(range(100))


def test_call_soon_threadsafe_returns_a_cancellable_handle(loop):
    trace = []
    handles = []
    th = threading.Thread(target=lambda: handles.append(loop.call_soon_threadsafe(trace.append, "x")))
    th.start()
    th.join()
    assert not handles[0].cancelled()
    handles[0].cancel()
    assert handles[0].cancelled()
    run_briefly(loop)
    assert trace == []


def test_future_completed_from_a_thread_wakes_the_awaiting_coroutine(loop):
    async def main():
        fut = loop.create_future()
        th = threading.Timer(0.05, lambda: loop.call_soon_threadsafe(fut.set_result, 42))
        th.start()
        try:
            return await fut
        finally:
            th.join()

    assert loop.run_until_complete(main()) == 42


def test_run_coroutine_threadsafe_returns_the_result_to_the_calling_thread(loop):
    results = []

    async def square(x):
        return x * x

    def worker():
        futs = [asyncio.run_coroutine_threadsafe(square(i), loop) for i in range(50)]
        results.extend(f.result(timeout=30) for f in futs)
        loop.call_soon_threadsafe(loop.stop)

    th = threading.Thread(target=worker)
    th.start()
    watchdog = loop.call_later(60, loop.stop)
    loop.run_forever()
    watchdog.cancel()
    th.join()
    assert results == [i * i for i in range(50)]


def test_inbox_wakeups_are_one_per_sleep_not_one_per_call():
    # aioloop only: its inbox writes the eventfd only when the loop sleeps.
    loop = aioloop.new_event_loop()
    try:
        go = threading.Event()

        def burst():
            go.wait()
            for _ in range(1000):
                loop.call_soon_threadsafe(int)
            loop.call_soon_threadsafe(loop.stop)

        th = threading.Thread(target=burst)
        th.start()
        loop.call_soon(go.set)
        watchdog = loop.call_later(30, loop.stop)
        loop.run_forever()
        th.join()
        watchdog.cancel()
        stats = loop.stats()
        assert stats["inbox"] == 0
        # The flag the loop sets before each sleep is consumed by one write.
        assert stats["inbox_wakeups"] <= stats["polls"]
        assert stats["callbacks"] >= 1001
    finally:
        loop.close()


@pytest.mark.parametrize("debug", [False, True])
def test_call_soon_threadsafe_accepts_a_callable_and_rejects_a_coroutine_in_debug(loop, debug):
    loop.set_debug(debug)

    async def coro():
        pass

    if debug:
        with pytest.raises(TypeError, match="coroutines cannot be used with call_soon_threadsafe"):
            loop.call_soon_threadsafe(coro)
    h = loop.call_soon_threadsafe(int)
    assert not h.cancelled()
    run_briefly(loop)


def test_threadsafe_calls_survive_a_loop_that_keeps_starting_and_stopping(loop):
    # Producers post while the loop alternates between short runs and set-up
    # code that calls call_soon() (which, between runs, moves the inbox into
    # the ready queue): still every call once, each thread's in order.
    n_threads, n_calls = 3, 3000
    received = {t: [] for t in range(n_threads)}
    go = threading.Event()

    def producer(t):
        go.wait()
        for i in range(n_calls):
            loop.call_soon_threadsafe(received[t].append, i)

    threads = [threading.Thread(target=producer, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    go.set()
    ticks = []
    deadline = time.monotonic() + 60
    while sum(map(len, received.values())) < n_threads * n_calls:
        assert time.monotonic() < deadline
        loop.call_soon(ticks.append, 1)
        run_briefly(loop)
    for th in threads:
        th.join()
    run_briefly(loop)
    for t in range(n_threads):
        assert received[t] == list(range(n_calls))
    assert len(ticks) >= 1
