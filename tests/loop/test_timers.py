"""Timers: deadlines in the past and future, cancellation, many timers,
and nothing kept alive once a timer ran, was cancelled or the loop closed."""

import asyncio
import gc
import math
import random
import weakref

import pytest

from helpers import run_briefly, run_until


class Token:
    """Something a timer's arguments keep alive (weakref-able)."""


def test_past_deadlines_run_on_the_next_pass(loop):
    trace = []
    loop.call_at(loop.time() - 100, trace.append, "at")
    loop.call_later(-5, trace.append, "later")
    loop.call_later(0, trace.append, "zero")
    run_briefly(loop)
    assert trace == ["at", "later", "zero"]


def test_call_later_returns_a_timer_handle_with_its_deadline(loop):
    before = loop.time()
    h = loop.call_later(10, int)
    after = loop.time()
    assert before + 10 <= h.when() <= after + 10
    h2 = loop.call_at(12345.5, int)
    assert h2.when() == 12345.5
    h.cancel()
    h2.cancel()


def test_timer_does_not_run_before_its_deadline(loop):
    ran_at = []
    h = loop.call_later(0.05, lambda: ran_at.append(loop.time()))
    when = h.when()
    run_until(loop, lambda: ran_at)
    # asyncio runs a timer once time() + clock resolution reaches its deadline.
    assert ran_at[0] >= when - 1e-6


def test_cancelled_timer_does_not_run(loop):
    trace = []
    h = loop.call_later(0.01, trace.append, "cancelled")
    loop.call_later(0.02, trace.append, "kept")
    assert h.cancel() is None
    assert h.cancelled()
    h.cancel()  # a second cancel is harmless
    run_until(loop, lambda: trace)
    assert trace == ["kept"]


def test_cancel_after_the_timer_ran_changes_nothing(loop):
    trace = []
    h = loop.call_later(0, trace.append, "ran")
    run_briefly(loop)
    h.cancel()
    assert h.cancelled()
    run_briefly(loop)
    assert trace == ["ran"]


def test_infinite_deadline_never_runs_and_does_not_block_the_loop(loop):
    trace = []
    h = loop.call_at(math.inf, trace.append, "never")
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert trace == []
    h.cancel()


def test_far_future_timer_does_not_block_stop(loop):
    h = loop.call_later(10**9, int)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert not h.cancelled()
    h.cancel()


def test_a_hundred_thousand_timers_with_half_cancelled_are_all_accounted_for(loop, loop_name):
    rng = random.Random(100)
    n = 100_000
    ran = []
    handles = []
    now = loop.time()
    # Deadlines spread over 50 ms, some already past.
    for i in range(n):
        handles.append(loop.call_at(now - 0.01 + rng.random() * 0.05, ran.append, i))
    cancelled = set(rng.sample(range(n), n // 2))
    for i in cancelled:
        handles[i].cancel()
    expected = sorted(set(range(n)) - cancelled, key=lambda i: handles[i].when())
    run_until(loop, lambda: len(ran) == len(expected), timeout=60)
    run_briefly(loop)
    assert len(ran) == len(expected)
    assert ran == expected  # every survivor once, in deadline order
    if loop_name == "aioloop":
        stats = loop.stats()
        assert stats["timers"] == 0
        assert stats["timers_cancelled"] == 0


def test_timer_drops_its_callback_and_arguments_once_run(loop):
    token = Token()
    ref = weakref.ref(token)
    h = loop.call_later(0, lambda t: None, token)
    href = weakref.ref(h)
    del token, h
    run_briefly(loop)
    gc.collect()
    assert href() is None
    assert ref() is None


def test_cancelled_timers_are_released_without_waiting_for_their_deadline(loop, loop_name):
    # 1000 far-future timers, 600 cancelled: after one pass the loop holds no
    # reference to the cancelled handles (more than half cancelled: the heap
    # is compacted, as asyncio does).
    keep = [loop.call_later(3600 + i, int) for i in range(400)]
    refs = []
    for i in range(600):
        h = loop.call_later(3600 + i, int, Token())
        refs.append(weakref.ref(h))
        h.cancel()
        del h
    run_briefly(loop)
    gc.collect()
    assert [r for r in refs if r() is not None] == []
    if loop_name == "aioloop":
        assert loop.stats()["timers"] == 400
        assert loop.stats()["timers_cancelled"] == 0
    for h in keep:
        h.cancel()
    run_briefly(loop)
    if loop_name == "aioloop":
        # 400 of 400 cancelled: compacted away on the next pass.
        assert loop.stats()["timers"] == 0


def test_cancelled_timer_arguments_are_released_at_cancel(loop):
    token = Token()
    ref = weakref.ref(token)
    h = loop.call_later(3600, lambda t: None, token)
    del token
    h.cancel()
    gc.collect()
    assert ref() is None


def test_close_releases_pending_timers_and_callbacks(loop_factory):
    loop = loop_factory()
    tokens = [Token() for _ in range(3)]
    refs = [weakref.ref(t) for t in tokens]
    loop.call_later(3600, lambda t: None, tokens[0])
    loop.call_soon(lambda t: None, tokens[1])
    loop.call_at(loop.time() - 1, lambda t: None, tokens[2])
    del tokens
    loop.close()
    gc.collect()
    assert [r() for r in refs] == [None, None, None]


def test_timer_stats_count_scheduled_and_pending_timers():
    import aioloop

    loop = aioloop.new_event_loop()
    try:
        hs = [loop.call_later(60, int) for _ in range(10)]
        stats = loop.stats()
        assert stats["timers"] == 10
        assert stats["timers_scheduled"] == 10
        hs[0].cancel()
        assert loop.stats()["timers_cancelled"] == 1
        loop.call_later(0, int)
        run_briefly(loop)
        stats = loop.stats()
        assert stats["timers"] == 9
        assert stats["timers_scheduled"] == 11
        for h in hs:
            h.cancel()
    finally:
        loop.close()
    assert loop.stats()["timers"] == 0


def test_sleep_durations_are_honoured_in_order(loop):
    import asyncio

    trace = []

    async def sleeper(d):
        await asyncio.sleep(d)
        trace.append(d)

    async def main():
        await asyncio.gather(*(sleeper(d) for d in (0.03, 0.0, 0.02, 0.01)))

    t0 = loop.time()
    loop.run_until_complete(main())
    assert trace == [0.0, 0.01, 0.02, 0.03]
    assert loop.time() - t0 >= 0.03


def test_timer_handle_compares_by_deadline(loop):
    a = loop.call_at(10.0, int)
    b = loop.call_at(20.0, int)
    assert a < b and b > a and a <= b and b >= a
    assert a != b
    assert a == a
    assert hash(a) == hash(10.0)
    a.cancel()
    b.cancel()


@pytest.mark.parametrize("delay", [0, 0.0, 1, 1.5, -3, True])
def test_call_later_accepts_int_float_and_negative_delays(loop, delay):
    h = loop.call_later(delay, int)
    assert isinstance(h.when(), float)
    h.cancel()


def test_aioloop_runs_timers_with_equal_deadlines_in_scheduling_order():
    # asyncio leaves equal deadlines unordered; aioloop promises FIFO.
    import aioloop

    loop = aioloop.new_event_loop()
    try:
        trace = []
        when = loop.time() - 1
        for i in range(500):
            loop.call_at(when, trace.append, i)
        run_briefly(loop)
        assert trace == list(range(500))
    finally:
        loop.close()


def test_closed_loop_can_be_garbage_collected(loop_factory):
    loop = loop_factory()
    loop.call_later(3600, int)
    loop.run_until_complete(asyncio.sleep(0.001))
    loop.close()
    ref = weakref.ref(loop)
    del loop
    gc.collect()
    assert ref() is None
