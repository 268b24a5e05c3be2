"""The Scheduler's submission path (Scheduler.sched, spawn, aioloop.sched):
argument checks at the call, placement by any int hint, the outside
submission count, and the collector parking of queued work."""

import asyncio
import contextvars
import gc
import logging
import threading

import pytest

import aioloop

N = 3


def where():
    return aioloop.thread_index(), threading.get_ident()


async def _a_where():
    return where()


def test_any_int_hint_places_on_hint_modulo_n_from_every_caller(clean_exit):
    hints = [-1, -N - 1, 2 ** 70 + 1, -(2 ** 70) - 2, 7]

    async def main(s):
        ids = {i: (await s.spawn(_a_where(), hint=i))[1] for i in range(N)}
        got = {}
        lock = threading.Lock()
        loop0 = asyncio.get_running_loop()
        done = loop0.create_future()

        def record(key, h):
            with lock:
                got[key, h] = where()
                last = len(got) == 3 * len(hints)
            if last:
                loop0.call_soon_threadsafe(done.set_result, None)

        for h in hints:
            s.sched(record, "method", h, hint=h)
            aioloop.sched(record, "module", h, hint=h)
        t = threading.Thread(target=lambda: [s.sched(record, "plain", h, hint=h)
                                             for h in hints])
        t.start()
        t.join()
        await asyncio.wait_for(done, 10)
        for (key, h), (idx, tid) in got.items():
            assert (key, idx, tid) == (key, h % N, ids[h % N])
        assert len(got) == 3 * len(hints)

    with aioloop.Scheduler(threads=N) as s:
        s.run(main(s))


def test_bad_arguments_raise_at_the_call_on_every_entry_point(clean_exit):
    async def main(s):
        for sched in (s.sched, aioloop.sched):
            with pytest.raises(TypeError, match="hint must be an int or None, got str"):
                sched(print, hint="1")
            with pytest.raises(TypeError, match="hint must be an int or None, got bool"):
                sched(print, hint=True)
            with pytest.raises(TypeError, match="sched\\(\\) needs a callable, got 42"):
                sched(42)
        return s.stats()["total"]["submitted_outside"]

    with aioloop.Scheduler(threads=2) as s:
        assert s.run(main(s)) == 0
    with pytest.raises(RuntimeError, match="scheduler is closed"):
        s.sched(print)
    with pytest.raises(RuntimeError, match="needs a running loop"):
        aioloop.sched(print)


def test_unhinted_submissions_from_plain_threads_are_counted_exactly(clean_exit):
    ran = []

    async def main(s):
        for i in range(5):                  # from a dispatch thread: not counted
            s.sched(ran.append, i)
        t = threading.Thread(target=lambda: [s.sched(ran.append, i) for i in range(7)])
        t.start()
        t.join()
        while len(ran) < 12 + 3:
            await asyncio.sleep(0.001)
        return s.stats()["total"]["submitted_outside"]

    with aioloop.Scheduler(threads=2) as s:
        for i in range(3):                  # before it runs, from this thread
            s.sched(ran.append, i)
        assert s.run(main(s)) == 3 + 7
    assert sorted(ran) == sorted([0, 1, 2] + list(range(5)) + list(range(7)))


def test_queued_work_is_parked_from_the_collector_until_its_loop_lets_it_go(clean_exit):
    var = contextvars.ContextVar("var")
    var.set("submitter")
    own = contextvars.copy_context()
    seen = []

    async def main():
        while len(seen) < 3:
            await asyncio.sleep(0.001)

    with aioloop.Scheduler(threads=2) as s:
        queued = s.sched(lambda: seen.append(var.get()))
        pinned = s.sched(lambda: seen.append(var.get()), hint=1)
        given = s.sched(lambda: seen.append(var.get()), context=own)
        # Queued (run queue or inbox): neither the handles nor the contexts
        # copied for them are traversed by the collector...
        tracked = [gc.is_tracked(h) for h in (queued, pinned, given)]
        tracked += [gc.is_tracked(queued.get_context()),
                    gc.is_tracked(pinned.get_context())]
        # ...but a context the caller gave stays the caller's.
        assert given.get_context() is own and gc.is_tracked(own)
        gc.collect()
        s.run(main())
    assert tracked == [False] * 5
    assert seen == ["submitter"] * 3
    # Run and let go, still held here: tracked again, contexts included.
    for h in (queued, pinned, given):
        assert gc.is_tracked(h) and gc.is_tracked(h.get_context())
    gc.collect()


def test_work_dropped_by_a_close_without_run_is_tracked_again(clean_exit, caplog):
    with caplog.at_level(logging.WARNING, logger="aioloop"):
        with aioloop.Scheduler(threads=2) as s:
            handles = [s.sched(print, i) for i in range(4)]
            tracked = [gc.is_tracked(h) for h in handles]
    assert tracked == [False] * 4
    assert sum("dropped: the scheduler was closed" in r.getMessage()
               for r in caplog.records) == 4
    for h in handles:
        assert gc.is_tracked(h) and gc.is_tracked(h.get_context())
    gc.collect()


def test_a_sched_handle_no_loop_took_has_a_repr_on_every_version(clean_exit):
    # As asyncio formats a Handle of a loop not in debug mode (with the
    # arguments before 3.13, without them from 3.13 on).
    loop = asyncio.new_event_loop()
    loop.set_debug(False)   # PYTHONASYNCIODEBUG=1 would add "created at"
    try:
        expected = repr(asyncio.Handle(print, (1,), loop)).replace("<Handle ", "<SchedHandle ")
    finally:
        loop.close()
    with aioloop.Scheduler(threads=2) as s:
        h = s.sched(print, 1)
        first = repr(h)
        h.cancel()
        second = repr(h)
    assert first == expected
    assert second == expected.replace("<SchedHandle ", "<SchedHandle cancelled ")
