"""call_soon_threadsafe from other threads: nothing lost, nothing doubled,
each thread's calls in its own order, and a sleeping loop wakes promptly."""

import asyncio
import gc
import os
import sys
import threading
import time

import pytest

import aioloop
from helpers import open_fds, run_briefly, take_fd_numbers_up_to, wait_until_asleep_in_poll

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
    loop_thread = threading.get_native_id()

    def poster():
        # Post only once the loop sleeps in its poll (its next timer is the
        # 30 s watchdog): only the post's wake-up can end that sleep.
        wait_until_asleep_in_poll(loop_thread)
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


# --- races with the loop's sleep and with close() -------------------------------


@pytest.mark.parametrize("far_timer", [False, True], ids=["sleep-forever", "sleep-on-timer"])
def test_ping_pong_from_many_threads_with_a_loop_that_sleeps_between_calls(loop, far_timer):
    # Each producer posts one call and waits for it to run before posting the
    # next, so the loop falls asleep between nearly every pair of calls and
    # wakes for each: a lost wake-up shows as a producer's wait timing out
    # (the loop has nothing else that would wake it).
    n_threads, rounds = 6, 400
    counts = [0] * n_threads
    stuck = []
    finished = []
    lock = threading.Lock()
    go = threading.Barrier(n_threads + 1)

    def bump(t, ev):
        counts[t] += 1
        ev.set()

    def producer(t):
        ev = threading.Event()
        go.wait()
        for i in range(rounds):
            ev.clear()
            loop.call_soon_threadsafe(bump, t, ev)
            if not ev.wait(10):
                stuck.append((t, i))
                break
        with lock:
            finished.append(t)
            if len(finished) == n_threads:
                loop.call_soon_threadsafe(loop.stop)

    if far_timer:
        far = loop.call_later(3600, int)  # a finite poll timeout, not -1
    threads = [threading.Thread(target=producer, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    watchdog = loop.call_later(60, loop.stop)  # under pytest-timeout's 120
    loop.call_soon(go.wait)
    loop.run_forever()
    watchdog.cancel()
    if far_timer:
        far.cancel()
    for th in threads:
        th.join()
    assert stuck == []
    assert counts == [rounds] * n_threads


class _Token:
    """One call's argument: counts, when it is freed, whether it ran."""

    ran = False
    refused = False

    def __init__(self, tally, lock):
        self.tally = tally
        self.lock = lock

    def __del__(self):
        with self.lock:
            if self.refused:
                self.tally["refused_freed"] += 1
            elif self.ran:
                self.tally["ran_freed"] += 1
            else:
                self.tally["dropped"] += 1


def _eventfds():
    return {fd for fd, target in open_fds().items() if target == "anon_inode:[eventfd]"}


def test_close_racing_producer_threads_refuses_or_delivers_and_never_writes_a_stale_fd():
    # aioloop only (stock asyncio's call_soon_threadsafe is not safe against
    # a concurrent close()). Producers post until they are refused; the loop
    # is closed under them. Every call is either run before close(), dropped
    # by close() or refused with RuntimeError('Event loop is closed'); none is
    # lost or freed twice, and no producer writes the loop's eventfd after
    # close(): the number is reused at once by an eventfd of ours that must
    # stay at zero.
    n_threads = 4
    for _ in range(15):
        lock = threading.Lock()
        tally = {"ran_freed": 0, "refused_freed": 0, "dropped": 0}
        accepted = [0] * n_threads
        refused = [0] * n_threads
        errors = []
        before = _eventfds()
        lp = aioloop.new_event_loop()
        (wakefd,) = _eventfds() - before
        go = threading.Barrier(n_threads + 1)

        def ran(token):
            token.ran = True

        def producer(t):
            go.wait()
            while True:
                token = _Token(tally, lock)
                try:
                    lp.call_soon_threadsafe(ran, token)
                except RuntimeError as exc:
                    token.refused = True
                    if str(exc) != "Event loop is closed":
                        errors.append(repr(exc))
                    refused[t] += 1
                    return
                except BaseException as exc:  # pragma: no cover - a bug
                    errors.append(repr(exc))
                    return
                accepted[t] += 1

        threads = [threading.Thread(target=producer, args=(t,)) for t in range(n_threads)]
        for th in threads:
            th.start()
        go.wait()
        for _ in range(20):
            run_briefly(lp)
        lp.close()
        # Take the closed numbers back (the lowest free ones) before the
        # producers have all noticed the close.
        mine = take_fd_numbers_up_to(wakefd)
        for th in threads:
            th.join()
        try:
            assert errors == []
            assert refused == [1] * n_threads
            for fd in mine:
                with pytest.raises(BlockingIOError):
                    os.eventfd_read(fd)  # counter 0: nobody wrote it
        finally:
            for fd in mine:
                os.close(fd)
        del lp, threads
        gc.collect()
        with lock:
            assert tally["refused_freed"] == n_threads
            assert tally["ran_freed"] + tally["dropped"] == sum(accepted)


def _cancel_race_round(n_threads, n_calls, lag):
    loop = aioloop.new_event_loop()
    ran = [bytearray(n_calls) for _ in range(n_threads)]
    errors = []
    finished = []
    lock = threading.Lock()
    go = threading.Barrier(n_threads + 1)

    class Target:
        def __init__(self, t, i):
            self.t, self.i = t, i

        def hit(self, payload):
            ran[self.t][self.i] += 1

    def producer(t):
        go.wait()
        recent = []
        for i in range(n_calls):
            # A fresh bound method and argument: the handle holds the only
            # references, which a cancel() on the loop's thread drops.
            recent.append((i, loop.call_soon_threadsafe(Target(t, i).hit, [i])))
            if len(recent) > lag:
                j, h = recent.pop(0)
                if j % 8:
                    h.cancel()
        with lock:
            finished.append(t)
            if len(finished) == n_threads:
                loop.call_soon_threadsafe(loop.stop)

    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx.get("exception") or ctx["message"]))
    threads = [threading.Thread(target=producer, args=(t,)) for t in range(n_threads)]
    try:
        for th in threads:
            th.start()
        watchdog = loop.call_later(120, loop.stop)
        loop.call_soon(go.wait)
        loop.run_forever()
        run_briefly(loop)
        watchdog.cancel()
        for th in threads:
            th.join()
    finally:
        loop.close()
    assert errors == []
    assert len(finished) == n_threads
    for t in range(n_threads):
        assert max(ran[t]) == 1
        # Handles dropped without cancel(): every 8th, and the last `lag`.
        assert all(ran[t][i] == 1 for i in range(0, n_calls - lag, 8))
        assert all(ran[t][i] == 1 for i in range(n_calls - lag, n_calls))


def test_handles_cancelled_by_their_producer_threads_while_the_loop_runs():
    # aioloop only (stock asyncio's pure-Python Handle can run a callback
    # that another thread's cancel() has just set to None). Producers cancel
    # the handles call_soon_threadsafe() gave them a few calls earlier, while
    # the loop may be running them: nothing crashes (on free-threaded CPython
    # a cancel() that dropped the callback and un-parked the context from the
    # producer's thread freed objects in use and tracked a Context twice, a
    # fatal error, in about one round in eight here), no callback fails, none
    # runs twice, and every handle never cancelled runs.
    for lag in (0, 1, 3, 0, 1, 3, 2, 2):
        _cancel_race_round(4, 25_000, lag)


def test_one_pass_takes_at_most_a_batch_from_the_inbox_and_the_rest_in_order():
    # A flood from other threads must not starve timers and I/O: one pass of
    # the run cycle takes at most 1024 callbacks from the inbox; the rest wait
    # for the next passes, in order. A probe that re-schedules itself runs
    # once per pass, before that pass's share of the inbox.
    loop = aioloop.new_event_loop()
    try:
        got = []
        seen = []

        def probe():
            seen.append(len(got))
            if len(seen) == 4:
                loop.stop()
            else:
                loop.call_soon(probe)

        loop.call_soon(probe)
        posted = threading.Thread(target=lambda: [
            loop.call_soon_threadsafe(got.append, i) for i in range(2500)])
        posted.start()
        posted.join()
        loop.run_forever()
        assert seen == [0, 1024, 2048, 2500]
        assert got == list(range(2500))
    finally:
        loop.close()


def test_call_soon_from_a_foreign_thread_is_refused_on_a_strict_loop():
    # Free-threaded builds refuse by default (the ready ring is unlocked);
    # the Scheduler's loops refuse on every build. _set_strict_thread is the
    # switch the Scheduler uses.
    loop = aioloop.new_event_loop()
    loop._set_strict_thread(True)
    errors = []

    def foreign():
        for call in (lambda: loop.call_soon(print),
                     lambda: loop.call_later(1, print),
                     lambda: loop.call_at(loop.time() + 1, print)):
            try:
                call()
            except RuntimeError as e:
                errors.append(str(e))
        loop.call_soon_threadsafe(loop.stop)

    try:
        loop.call_soon(threading.Thread(target=foreign).start)
        loop.run_forever()
        assert len(errors) == 3
        # In debug mode asyncio's own check answers first, with its message
        # (tests/loop/test_debug.py compares it with asyncio's).
        expected = ('Non-thread-safe operation' if loop.get_debug()
                    else 'call_soon_threadsafe')
        assert all(expected in e for e in errors), errors
        # Not running: the owner may prepare work from any thread, as asyncio.
        t = threading.Thread(target=lambda: loop.call_soon(got.append, 1))
        got = []
        t.start()
        t.join()
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert got == [1]
    finally:
        loop.close()


@pytest.mark.skipif(getattr(sys, '_is_gil_enabled', lambda: True)(),
                    reason='the default refusal is for free-threaded builds; '
                           'the strict-loop test above covers GIL builds')
def test_free_threaded_build_refuses_foreign_call_soon_by_default():
    loop = aioloop.new_event_loop()
    errors = []

    def foreign():
        try:
            loop.call_soon(print)
        except RuntimeError as e:
            errors.append(e)
        loop.call_soon_threadsafe(loop.stop)

    try:
        loop.call_soon(threading.Thread(target=foreign).start)
        loop.run_forever()
        assert len(errors) == 1
    finally:
        loop.close()
