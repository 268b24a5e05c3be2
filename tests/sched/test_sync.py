"""TaskBarrier, TaskLock, Queue and Event across threads and loops, in both
styles, with exact counts."""

import asyncio
import gc
import inspect
import os
import threading
import weakref

import pytest

import aioloop

N = 4
SCALE = int(os.environ.get("AIOLOOP_STRESS", "1"))


def run(main, threads=N):
    with aioloop.Scheduler(threads=threads) as s:
        return s.run(main(s))


async def until(pred, timeout=30.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        assert loop.time() < end, "timed out"
        await asyncio.sleep(0.001)


# --- TaskBarrier ------------------------------------------------------------------

def test_ordinary_barrier_runs_its_task_once_after_n_signals_from_many_threads():
    ran = []

    async def main(s):
        b = aioloop.TaskBarrier(40, lambda: ran.append(aioloop.thread_index()), hint=2)
        assert b.mode == "ordinary"
        start = threading.Barrier(4)

        def signaller():
            start.wait()
            for _ in range(10):
                b.signal()

        ts = [threading.Thread(target=signaller) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        await until(lambda: ran)
        assert b.spent and b.count == 40 and b.trips == 1
        with pytest.raises(RuntimeError, match="spent"):
            b.signal()
        # The last of n parties that signal() then wait() does not hang.
        assert await b.wait() == 1

    run(main)
    assert ran == [2]


def test_threshold_barrier_runs_after_every_n_admits():
    ran = []

    async def main(s):
        b = aioloop.TaskBarrier(3, lambda: ran.append(1), total=aioloop.TaskBarrier.INFTY)
        assert b.mode == "threshold"
        for _ in range(10):
            b.admit()
        await until(lambda: len(ran) == 3)
        assert b.trips == 3 and not b.spent
        with pytest.raises(ValueError, match=r"admit\(\)"):
            b.signal()
        with pytest.raises(ValueError, match=r"admit\(\)"):
            b.admit_bounded()

    run(main)
    assert len(ran) == 3


@pytest.mark.parametrize("n, total, runs", [(3, 10, 4), (3, 9, 3), (5, 5, 1), (1, 4, 4)])
def test_bounded_barrier_runs_ceil_total_over_n_times_then_is_spent(n, total, runs):
    ran = []

    async def main(s):
        b = aioloop.TaskBarrier(n, lambda: ran.append(1), total=total)
        assert b.mode == "bounded"
        for _ in range(total):
            b.admit_bounded()
        assert b.spent and b.trips == runs
        with pytest.raises(RuntimeError, match="spent"):
            b.admit_bounded()
        with pytest.raises(ValueError, match="admit_bounded"):
            b.admit()
        await until(lambda: len(ran) == runs)

    run(main)
    assert len(ran) == runs


@pytest.mark.parametrize("kwargs, exc", [
    (dict(n=0), ValueError), (dict(n=-2), ValueError), (dict(n="3"), TypeError),
    (dict(n=3, task=print, total=2), ValueError), (dict(n=3, task=print, total=0), ValueError),
    (dict(n=3, task=42), TypeError), (dict(n=3, total=aioloop.TaskBarrier.INFTY), ValueError),
])
def test_bad_barrier_arguments_fail_at_construction(kwargs, exc):
    with pytest.raises(exc):
        aioloop.TaskBarrier(**kwargs)


def test_arrive_is_the_classic_barrier_across_loops_and_returns_the_trip():
    async def party(b):
        first = await b.arrive()
        return first, aioloop.thread_index()

    async def main(s):
        b = aioloop.TaskBarrier(N)
        res = await asyncio.gather(*(s.spawn(party(b), hint=i) for i in range(N)))
        assert sorted(i for _, i in res) == list(range(N))
        assert {t for t, _ in res} == {1}
        # Threshold barrier: waiters on several loops wake at each trip.
        tb = aioloop.TaskBarrier(2, lambda: None, total=aioloop.TaskBarrier.INFTY)
        waits = [s.spawn(tb.wait(), hint=i) for i in range(N)]
        await asyncio.sleep(0.02)
        tb.admit()
        tb.admit()
        assert [await w for w in waits] == [1] * N

    run(main)


def test_a_cancelled_waiter_leaves_the_barrier_cleanly():
    async def main(s):
        b = aioloop.TaskBarrier(2)
        w = asyncio.ensure_future(b.wait())
        await asyncio.sleep(0)
        w.cancel()
        with pytest.raises(asyncio.CancelledError):
            await w
        assert b.n_waiting == 0
        b.signal()
        b.signal()
        assert await b.wait() == 1

    run(main)


# --- TaskLock ------------------------------------------------------------------------

def test_callback_style_lock_is_fifo_and_never_runs_the_next_task_inline():
    order = []

    async def main(s):
        lock = aioloop.TaskLock()
        assert lock.canlock()
        depth = []

        def task(i):
            order.append(i)
            depth.append((aioloop.thread_index(), len(inspect.stack())))
            lock.unlock()

        for i in range(20):
            lock.lock(task, i, hint=i % N)
        assert lock.locked()
        lock.unlock()
        await until(lambda: len(order) == 20)
        await until(lambda: not lock.locked())
        with pytest.raises(RuntimeError, match="unlocked"):
            aioloop.TaskLock().unlock()
        return depth

    depth = run(main)
    assert order == list(range(20))
    # Hand-offs do not nest stacks: on each thread every task ran at the same depth.
    for t in range(N):
        assert len({d for tt, d in depth if tt == t}) <= 1


def test_canlock_with_a_task_schedules_it_on_success_only():
    ran = []

    async def main(s):
        lock = aioloop.TaskLock()
        assert lock.canlock(lambda: ran.append("first"))
        assert not lock.canlock(lambda: ran.append("second"))
        await until(lambda: ran)
        lock.unlock()
        assert not lock.locked()

    run(main)
    assert ran == ["first"]


def test_mutual_exclusion_under_contention_from_threads_and_loops():
    per = 2000 * SCALE
    box = {"n": 0}

    async def coro_user(lock, k):
        for _ in range(k):
            async with lock:
                v = box["n"]
                await asyncio.sleep(0) if v % 97 == 0 else None
                box["n"] = v + 1

    async def main(s):
        lock = aioloop.TaskLock()
        done = threading.Event()
        remaining = [4 * per]
        rlock = threading.Lock()

        def cb_user():
            v = box["n"]
            box["n"] = v + 1
            with rlock:
                remaining[0] -= 1
                last = remaining[0] == 0
            lock.unlock()
            if last:
                done.set()

        def thread_user():
            for _ in range(per):
                lock.lock(cb_user)

        ts = [threading.Thread(target=thread_user) for _ in range(4)]
        for t in ts:
            t.start()
        await asyncio.gather(*(s.spawn(coro_user(lock, per), hint=i) for i in range(N)))
        for t in ts:
            t.join()
        await asyncio.to_thread(done.wait, 60)
        await until(lambda: not lock.locked())

    run(main)
    assert box["n"] == 8 * per


def test_fifo_tickets_across_threads_for_coroutine_waiters():
    async def main(s):
        lock = aioloop.TaskLock()
        await lock.acquire()
        got = []

        async def waiter(i):
            await lock.acquire()
            got.append(i)
            lock.release()

        sps = []
        for i in range(12):
            sps.append(s.spawn(waiter(i), hint=i % N))
            await until(lambda: lock.n_waiting == i + 1)
        lock.release()
        for sp in sps:
            await sp
        assert got == list(range(12))

    run(main)


def test_a_waiter_cancelled_in_the_queue_or_after_the_hand_off_loses_nothing():
    async def main(s):
        lock = aioloop.TaskLock()
        for _ in range(200 * SCALE):
            await lock.acquire()
            w1 = s.spawn(lock.acquire(), hint=1)
            w2 = s.spawn(lock.acquire(), hint=2)
            await until(lambda: lock.n_waiting == 2)
            # Race the cancellation of w1 with the hand-off to it.
            w1.cancel()
            lock.release()
            try:
                await w1
                s.sched(lock.release, hint=1)   # it got the lock after all
            except asyncio.CancelledError:
                pass
            assert await w2 is True
            lock.release()
            await until(lambda: not lock.locked())
        assert lock.n_waiting == 0

    run(main)


def test_nothing_is_left_referenced_after_the_run():
    class Task:
        def __call__(self):
            pass

    refs = []

    async def main(s):
        lock = aioloop.TaskLock()
        b = aioloop.TaskBarrier(2, t := Task())
        refs.append(weakref.ref(t))
        arg = Task()
        refs.append(weakref.ref(arg))
        lock.lock(lambda a: lock.unlock(), arg)
        b.signal()
        b.signal()
        await until(lambda: not lock.locked())
        del t, arg

    run(main)
    gc.collect()
    assert all(r() is None for r in refs)


# --- Queue and Event ----------------------------------------------------------------

def test_queue_moves_every_item_once_between_threads_and_loops():
    per = 3000 * SCALE

    async def consumer(q):
        got = []
        while True:
            item = await q.get()
            q.task_done()
            if item is None:
                return got
            got.append(item)

    async def producer(q, k):
        for i in range(per):
            await q.put((k, i))

    async def main(s):
        q = aioloop.Queue(maxsize=50)
        consumers = [s.spawn(consumer(q), hint=i) for i in range(N)]
        plain = threading.Thread(target=lambda: [
            _put_blocking(q, ("t", i)) for i in range(per)])
        plain.start()
        await asyncio.gather(*(s.spawn(producer(q, k), hint=k) for k in range(N)))
        await asyncio.to_thread(plain.join)
        await q.join()
        for _ in range(N):
            await q.put(None)
        results = [await c for c in consumers]
        items = [x for r in results for x in r]
        assert len(items) == (N + 1) * per and len(set(items)) == len(items)
        for r in results:       # each producer's items in its order per consumer
            for k in list(range(N)) + ["t"]:
                seq = [i for kk, i in r if kk == k]
                assert seq == sorted(seq)
        with pytest.raises(asyncio.QueueEmpty):
            q.get_nowait()
        with pytest.raises(ValueError):
            q.task_done()

    run(main)


def _put_blocking(q, item):
    while True:
        try:
            return q.put_nowait(item)
        except asyncio.QueueFull:
            threading.Event().wait(0.0005)


def test_queue_getter_cancelled_passes_its_wake_up_on():
    async def main(s):
        q = aioloop.Queue()
        g1 = s.spawn(q.get(), hint=1)
        g2 = s.spawn(q.get(), hint=2)
        await until(lambda: q._n_waiting() == (2, 0))
        g1.cancel()
        q.put_nowait("x")
        try:
            got = await g1
            assert got == "x"
            g2.cancel()
        except asyncio.CancelledError:
            assert await g2 == "x"

    run(main)


def test_event_wakes_waiters_on_every_loop_and_is_settable_from_threads():
    async def main(s):
        ev = aioloop.Event()
        waits = [s.spawn(ev.wait(), hint=i) for i in range(N)]
        await asyncio.sleep(0.01)
        threading.Thread(target=ev.set).start()
        assert [await w for w in waits] == [True] * N
        assert ev.is_set()
        ev.clear()
        w = asyncio.ensure_future(ev.wait())
        await asyncio.sleep(0)
        w.cancel()
        with pytest.raises(asyncio.CancelledError):
            await w
        assert ev.n_waiting == 0

    run(main)


# --- the C implementation's own paths -------------------------------------------

@pytest.mark.parametrize("kind", ["lock", "event", "barrier", "queue", "join"])
def test_many_waiters_cancelled_behind_a_stuck_head_are_dropped_and_the_next_is_served(kind):
    # Cancelled waiters are marked and skipped, and the FIFO is compacted when
    # they are more than half of it: the live ones keep their order and
    # nothing is woken twice.
    async def main():
        lock, ev, q = aioloop.TaskLock(), aioloop.Event(), aioloop.Queue()
        b = aioloop.TaskBarrier(1000)
        if kind == "lock":
            await lock.acquire()
            wait, count = lock.acquire, lambda: lock.n_waiting
        elif kind == "event":
            wait, count = ev.wait, lambda: ev.n_waiting
        elif kind == "barrier":
            wait, count = b.wait, lambda: b.n_waiting
        elif kind == "queue":
            wait, count = q.get, lambda: q._n_waiting()[0]
        else:
            q.put_nowait(0)
            wait, count = q.join, lambda: -1
        first = asyncio.ensure_future(wait())
        doomed = [asyncio.ensure_future(wait()) for _ in range(300)]
        last = asyncio.ensure_future(wait())
        await asyncio.sleep(0)
        for d in doomed:
            d.cancel()
        await asyncio.gather(*doomed, return_exceptions=True)
        if kind != "join":
            assert count() == 2
        if kind == "lock":
            lock.release()
            assert await first is True
            assert not last.done()
            lock.release()
            assert await last is True
            lock.release()
            assert not lock.locked() and lock.n_waiting == 0
        elif kind == "event":
            ev.set()
            assert await first is True and await last is True
        elif kind == "barrier":
            for _ in range(1000):
                b.signal()
            assert await first == 1 and await last == 1
        elif kind == "queue":
            q.put_nowait("a")
            q.put_nowait("b")
            assert await first == "a" and await last == "b"
            assert q._n_waiting() == (0, 0)
        else:
            q.get_nowait()
            q.task_done()
            assert await first is None and await last is None

    aioloop.run(main())


@pytest.mark.parametrize("factory", [asyncio.new_event_loop, aioloop.new_event_loop],
                         ids=["asyncio", "aioloop"])
def test_awaiters_on_stock_asyncio_and_aioloop_loops_in_other_threads(factory):
    # "From any loop": the primitives wake a loop of any kind through its
    # call_soon_threadsafe.
    ev, q, lock = aioloop.Event(), aioloop.Queue(), aioloop.TaskLock()
    b = aioloop.TaskBarrier(3)
    results = {}

    async def side():
        results["ev"] = await ev.wait()
        results["q"] = [await q.get() for _ in range(3)]
        async with lock:
            results["lock"] = True
        results["trip"] = await b.arrive()

    def thread():
        loop = factory()
        try:
            loop.run_until_complete(side())
        finally:
            loop.close()

    t = threading.Thread(target=thread)
    assert lock.canlock()
    t.start()
    ev.set()
    for i in range(3):
        q.put_nowait(i)
    lock.unlock()
    b.signal()
    b.signal()
    t.join(30)
    assert not t.is_alive()
    assert results == {"ev": True, "q": [0, 1, 2], "lock": True, "trip": 1}
    assert b.spent and not lock.locked()


def test_callback_style_on_a_plain_loop_runs_there():
    ran = []

    async def main():
        loop = asyncio.get_running_loop()
        lock = aioloop.TaskLock()
        b = aioloop.TaskBarrier(2, lambda: ran.append(("trip", asyncio.get_running_loop() is loop)))
        lock.lock(lambda: (ran.append(("lock", asyncio.get_running_loop() is loop)), lock.unlock()))
        threading.Thread(target=lambda: (b.signal(), b.signal())).start()
        await until(lambda: len(ran) == 2)
        assert not lock.locked()

    aioloop.run(main())
    assert sorted(ran) == [("lock", True), ("trip", True)]


def test_a_lock_whose_task_cannot_be_scheduled_is_passed_on_not_lost():
    box = {}

    async def main(s):
        box["lock"] = aioloop.TaskLock()

    run(main, threads=2)        # the scheduler is closed after this
    lock = box["lock"]
    with pytest.raises(RuntimeError, match="closed"):
        lock.lock(print)
    assert not lock.locked()
    with pytest.raises(RuntimeError, match="closed"):
        lock.canlock(print)
    assert not lock.locked()
    with pytest.raises(RuntimeError, match="unlocked"):
        lock.unlock()


def test_objects_are_freed_by_reference_counting_after_use():
    # The FIFOs release what they held: no cycle keeps a used object alive.
    async def main():
        objs = [aioloop.TaskLock(), aioloop.Event(), aioloop.Queue(), aioloop.TaskBarrier(1)]
        lock, ev, q, b = objs
        await lock.acquire()
        w = asyncio.ensure_future(lock.acquire())
        await asyncio.sleep(0)
        lock.release()
        await w
        lock.release()
        e = asyncio.ensure_future(ev.wait())
        await asyncio.sleep(0)
        ev.set()
        await e
        g = asyncio.ensure_future(q.get())
        await asyncio.sleep(0)
        q.put_nowait(object())
        await g
        await b.arrive()
        refs = [weakref.ref(o) for o in objs]
        del objs, lock, ev, q, b, w, e, g
        return refs

    gc.disable()
    try:
        refs = aioloop.run(main())
        assert [r() for r in refs] == [None] * 4
    finally:
        gc.enable()
