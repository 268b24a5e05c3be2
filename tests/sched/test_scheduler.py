"""The Scheduler: placement, stealing, Spawned from every kind of caller,
cancellation both ways, exceptions, contextvars, asyncio libraries on
dispatch threads, sharded servers, shutdown, failure and fork."""

import asyncio
import contextvars
import functools
import gc
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import aioloop
from helpers import in_forked_child, run_python

N = 4


def where():
    return aioloop.thread_index(), threading.get_ident()


async def a_where():
    return where()


# --- entry points ------------------------------------------------------------

def test_every_entry_point_runs_main_on_thread_0_of_n(clean_exit):
    async def main():
        s = aioloop.current_scheduler()
        return aioloop.thread_index(), s.threads, threading.get_ident()

    me = threading.get_ident()
    assert aioloop.run(main(), threads=3) == (0, 3, me)
    if sys.version_info >= (3, 12):
        assert asyncio.run(main(), loop_factory=functools.partial(
            aioloop.new_event_loop, threads=3)) == (0, 3, me)
    with asyncio.Runner(loop_factory=lambda: aioloop.new_event_loop(threads=2)) as r:
        assert r.run(main()) == (0, 2, me)
    asyncio.set_event_loop_policy(aioloop.EventLoopPolicy(threads=2))
    try:
        assert asyncio.run(main()) == (0, 2, me)
    finally:
        asyncio.set_event_loop_policy(None)
    with aioloop.Scheduler(threads=3) as s:
        assert s.run(main()) == (0, 3, me)


def test_one_thread_is_the_plain_loop():
    loop = aioloop.new_event_loop(threads=1)
    try:
        assert type(loop) is aioloop.Loop
    finally:
        loop.close()

    async def main():
        # Outside a scheduler, spawn and sched fall back to the running loop.
        sp = aioloop.spawn(a_where())
        assert (await sp) == (None, threading.get_ident())
        assert sp.thread == 0
        got = []
        aioloop.sched(got.append, 1)
        await asyncio.sleep(0)
        return aioloop.current_scheduler(), got

    assert aioloop.run(main()) == (None, [1])


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-1, ValueError),
                                      ("2", TypeError), (2.0, TypeError),
                                      (True, TypeError)])
def test_bad_thread_counts_are_refused_at_the_call(bad, exc):
    with pytest.raises(exc, match="threads"):
        aioloop.Scheduler(threads=bad)
    with pytest.raises(exc, match="threads"):
        aioloop.new_event_loop(threads=bad)
    with pytest.raises(exc, match="threads"):
        aioloop.EventLoopPolicy(threads=bad)
    coro = a_where()
    with pytest.raises(exc, match="threads"):
        aioloop.run(coro, threads=bad)
    coro.close()


def test_bad_arguments_to_spawn_and_sched(clean_exit):
    with aioloop.Scheduler(threads=2) as s:
        with pytest.raises(TypeError, match="coroutine"):
            s.spawn(a_where)
        coro = a_where()
        with pytest.raises(TypeError, match="hint"):
            s.spawn(coro, hint="1")
        coro.close()
        with pytest.raises(TypeError, match="callable"):
            s.sched(42)
        with pytest.raises(TypeError, match="hint"):
            s.sched(print, hint=1.5)
        with pytest.raises(ValueError, match="daemons"):
            aioloop.Scheduler(threads=2, daemons=0)


# --- placement ---------------------------------------------------------------

def test_hinted_work_runs_on_hint_modulo_n_and_is_never_stolen(clean_exit):
    async def main(s):
        ids = {}
        for i in range(N):
            ids[i] = (await s.spawn(a_where(), hint=i))[1]
        assert len(set(ids.values())) == N
        for h in range(-5, 13):
            idx, tid = await s.spawn(a_where(), hint=h)
            assert idx == h % N and tid == ids[h % N]
        # sched with hints, from a dispatch thread and from a plain thread
        got = []
        done = threading.Event()
        total = 3 * N

        def record(h):
            got.append((h, where()))
            if len(got) == total:
                done.set()

        for h in range(N):
            s.sched(record, h, hint=h)
        t = threading.Thread(target=lambda: [s.sched(record, h, hint=h)
                                             for h in range(2 * N)])
        t.start()
        t.join()
        while not done.is_set():
            await asyncio.sleep(0.001)
        for h, (idx, tid) in got:
            assert idx == h % N and tid == ids[h % N]
        # A busy thread 0 does not lose its pinned work to idle siblings.
        placed = [s.spawn(_blocking_where(0.002), hint=0) for _ in range(40)]
        assert {(await p)[0] for p in placed} == {0}

    with aioloop.Scheduler(threads=N) as s:
        s.run(main(s))


async def _blocking_where(seconds):
    time.sleep(seconds)         # busy, GIL released: siblings may steal
    return where()


def test_an_unhinted_burst_on_a_busy_thread_0_is_partly_stolen(clean_exit):
    async def main(s):
        sps = [s.spawn(_blocking_where(0.002)) for _ in range(100)]
        return [(await sp)[0] for sp in sps], s.stats()

    with aioloop.Scheduler(threads=2) as s:
        ran_on, stats = s.run(main(s))
    assert len(ran_on) == 100
    assert ran_on.count(1) > 0, "thread 1 never stole from the busy thread 0"
    assert stats["threads"][1]["stolen"] >= ran_on.count(1)
    assert stats["threads"][0]["stolen"] == 0 or ran_on.count(0) > 0
    assert stats["total"]["tasks_started"] == 100


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.Task has no eager_start "
                    "before 3.12: a spawned coroutine's Task is made before its first step runs, "
                    "and a made Task cannot be stolen")
def test_two_long_tasks_spawned_together_run_on_two_threads(clean_exit):
    # The pass that takes the first one from thread 0's queue runs its first
    # step at once (0.5 s, blocking): the idle thread 1 steals the other.
    async def main(s):
        sps = [s.spawn(_blocking_where(0.5)) for _ in range(2)]
        return sorted([(await sp)[0] for sp in sps])

    with aioloop.Scheduler(threads=2) as s:
        assert s.run(main(s)) == [0, 1]


def test_unhinted_work_from_a_plain_thread_goes_to_some_dispatch_thread(clean_exit):
    with aioloop.Scheduler(threads=N) as s:
        async def main():
            results = await asyncio.to_thread(
                lambda: [s.spawn(a_where()).result(timeout=10) for _ in range(20)])
            return results, s.stats()["total"]["submitted_outside"]

        results, outside = s.run(main())
    assert all(idx is not None for idx, _ in results)
    assert outside == 20


def test_per_submitter_fifo_for_work_that_stays_on_its_thread(clean_exit):
    async def main(s):
        got = []
        for i in range(500):
            s.sched(got.append, i, hint=2)
        done = s.spawn(a_where(), hint=2)
        await done
        return got

    with aioloop.Scheduler(threads=N) as s:
        assert s.run(main(s)) == list(range(500))


# --- Spawned -----------------------------------------------------------------

def test_spawned_awaited_from_same_loop_other_dispatch_loop_and_outside_loop(clean_exit):
    outside_results = []

    async def square(x):
        await asyncio.sleep(0)
        return x * x, aioloop.thread_index()

    async def from_thread_2(s):
        # A dispatch loop awaiting work pinned to another dispatch loop.
        return await s.spawn(square(3), hint=1), aioloop.thread_index()

    async def main(s):
        assert await s.spawn(square(2), hint=0) == (4, 0)
        assert await s.spawn(from_thread_2(s), hint=2) == ((9, 1), 2)

        # A loop outside the scheduler, in a thread of its own.
        def outside():
            async def wait_there():
                return await s.spawn(square(5), hint=3)
            outside_results.append(aioloop.run(wait_there()))

        t = threading.Thread(target=outside)
        t.start()
        await asyncio.to_thread(t.join)
        # A plain thread with result().
        r = await asyncio.to_thread(lambda: s.spawn(square(6), hint=1).result(10))
        assert r == (36, 1)

    with aioloop.Scheduler(threads=N) as s:
        s.run(main(s))
    assert outside_results == [(25, 3)]


def test_result_blocks_only_plain_threads_and_times_out(clean_exit):
    async def main(s):
        gate = threading.Event()
        sp = s.spawn(asyncio.to_thread(gate.wait), hint=1)
        with pytest.raises(RuntimeError, match="await"):
            sp.result()
        with pytest.raises(TimeoutError):
            await asyncio.to_thread(sp.result, 0.05)
        assert not sp.done()
        gate.set()
        assert await asyncio.to_thread(sp.result, 10) is True
        assert sp.done() and not sp.cancelled() and sp.exception() is None

    with aioloop.Scheduler(threads=2) as s:
        s.run(main(s))


def test_exceptions_come_back_through_await_and_result(clean_exit):
    async def fail():
        raise ValueError("boom")

    async def main(s):
        with pytest.raises(ValueError, match="boom"):
            await s.spawn(fail(), hint=1)
        sp = s.spawn(fail(), hint=1)
        with pytest.raises(ValueError, match="boom"):
            await asyncio.to_thread(sp.result, 10)
        assert isinstance(await asyncio.to_thread(sp.exception, 10), ValueError)

    with aioloop.Scheduler(threads=2) as s:
        s.run(main(s))


def test_an_exception_nobody_retrieved_reaches_the_exception_handler(clean_exit):
    seen = []

    async def fail():
        raise ValueError("unseen")

    async def main(s):
        sp = s.spawn(fail(), hint=1)
        while not sp.done():
            await asyncio.sleep(0.001)
        del sp
        gc.collect()

    with aioloop.Scheduler(threads=2) as s:
        s.set_exception_handler(lambda loop, ctx: seen.append(ctx))
        s.run(main(s))
    assert [type(c["exception"]) for c in seen] == [ValueError]
    assert "never retrieved" in seen[0]["message"]


def test_cancel_from_any_thread_cancels_the_task_on_its_own_loop(clean_exit):
    async def main(s):
        started = threading.Event()
        finalized = []

        async def forever():
            started.set()
            try:
                await asyncio.sleep(100)
            finally:
                finalized.append(aioloop.thread_index())

        sp = s.spawn(forever(), hint=1)
        await asyncio.to_thread(started.wait, 10)
        assert await asyncio.to_thread(sp.cancel, "stop it")   # a plain thread
        with pytest.raises(asyncio.CancelledError):
            await sp
        assert sp.cancelled() and finalized == [1]
        assert not sp.cancel()

        # Cancelled before it starts: it never starts.
        ran = []

        async def never():
            ran.append(1)

        gate = threading.Event()
        s.sched(gate.wait, hint=2)              # thread 2 is busy
        sp2 = s.spawn(never(), hint=2)
        assert sp2.cancel()
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await sp2
        await s.spawn(a_where(), hint=2)
        assert ran == []

    with aioloop.Scheduler(threads=N) as s:
        s.run(main(s))


def test_cancelling_the_awaiter_cancels_the_spawned_unless_shielded(clean_exit):
    async def main(s):
        cancelled_on = []

        async def slow():
            try:
                await asyncio.sleep(100)
            except asyncio.CancelledError:
                cancelled_on.append(aioloop.thread_index())
                raise

        sp = s.spawn(slow(), hint=1)
        awaiter = asyncio.ensure_future(_await(sp))
        await asyncio.sleep(0.01)
        awaiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await awaiter
        assert sp.cancelled() and cancelled_on == [1]

        sp = s.spawn(slow(), hint=1)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(sp, 0.02)
        assert sp.cancelled() and cancelled_on == [1, 1]

        async def answer():
            await asyncio.sleep(0.05)
            return 42

        sp = s.spawn(answer(), hint=1)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(sp), 0.01)
        assert await sp == 42

        # Work that swallows the cancellation gives its awaiter its result,
        # as with an awaited Task.
        async def stubborn():
            try:
                await asyncio.sleep(100)
            except asyncio.CancelledError:
                return "kept"

        sp = s.spawn(stubborn(), hint=1)
        awaiter = asyncio.ensure_future(_await(sp))
        await asyncio.sleep(0.01)
        awaiter.cancel()
        assert await awaiter == "kept"

    with aioloop.Scheduler(threads=2) as s:
        s.run(main(s))


async def _await(aw):
    return await aw


def test_done_callbacks_run_on_the_adders_loop_or_in_the_completing_thread(clean_exit):
    async def main(s):
        got = []
        done = asyncio.Event()
        gate = threading.Event()

        async def waits():
            await asyncio.to_thread(gate.wait)
            return 7

        sp = s.spawn(waits(), hint=1)
        sp.add_done_callback(lambda f: (got.append(("loop", where(), f.result())),
                                        done.set()))
        plain = []
        added = threading.Event()

        def from_plain():
            sp.add_done_callback(lambda f: plain.append(where()))
            added.set()

        threading.Thread(target=from_plain).start()
        added.wait()
        gate.set()
        await done.wait()
        assert got == [("loop", where(), 7)]
        while not plain:
            await asyncio.sleep(0.001)
        # Added from a plain thread: run by the thread that completed it.
        assert plain[0][0] == 1

    with aioloop.Scheduler(threads=2) as s:
        s.run(main(s))


def test_contextvars_are_carried_into_spawned_and_scheduled_work(clean_exit):
    var = contextvars.ContextVar("var", default="unset")

    async def read():
        return var.get(), aioloop.thread_index()

    async def main(s):
        var.set("outer")
        assert await s.spawn(read(), hint=1) == ("outer", 1)
        ctx = contextvars.copy_context()
        ctx.run(var.set, "given")
        assert await s.spawn(read(), hint=2, context=ctx) == ("given", 2)
        got = []
        s.sched(lambda: got.append(var.get()), hint=3)
        while not got:
            await asyncio.sleep(0.001)
        assert got == ["outer"]

    with aioloop.Scheduler(threads=N) as s:
        s.run(main(s))


def test_loop_bound_objects_on_another_loop_fail_with_advice(clean_exit):
    async def main(s):
        event = asyncio.Event()
        waiter = asyncio.ensure_future(event.wait())
        await asyncio.sleep(0)      # the event is bound to loop 0 from now on

        async def use():
            await event.wait()

        with pytest.raises(RuntimeError) as info:
            await s.spawn(use(), hint=1)
        notes = "\n".join(getattr(info.value, "__notes__", []))
        assert "dispatch thread 1" in notes and "hint=" in notes
        waiter.cancel()

    with aioloop.Scheduler(threads=2) as s:
        s.run(main(s))


def test_call_soon_from_a_foreign_thread_is_refused_on_dispatch_loops(clean_exit):
    async def main(s):
        loop1 = s.loops[1]
        await s.spawn(a_where(), hint=1)        # loop 1 is running
        # In debug mode asyncio's own check answers first, with its message.
        expected = ("Non-thread-safe operation" if loop1.get_debug()
                    else "call_soon_threadsafe")
        with pytest.raises(RuntimeError, match=expected):
            loop1.call_soon(print)
        with pytest.raises(RuntimeError, match=expected):
            loop1.call_later(1, print)

    with aioloop.Scheduler(threads=2) as s:
        s.run(main(s))


# --- asyncio libraries on dispatch threads, sharded servers --------------------

def test_streams_and_a_tcp_server_on_a_dispatch_thread(clean_exit):
    async def serve_and_talk():
        async def echo(r, w):
            w.write(await r.readline())
            await w.drain()
            w.close()
            await w.wait_closed()

        srv = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"hello\n")
        line = await r.readline()
        w.close()
        await w.wait_closed()
        srv.close()
        await srv.wait_closed()
        return line, aioloop.thread_index()

    async def main(s):
        return await asyncio.gather(*(s.spawn(serve_and_talk(), hint=i)
                                      for i in range(1, N)))

    with aioloop.Scheduler(threads=N) as s:
        assert s.run(main(s)) == [(b"hello\n", i) for i in range(1, N)]


def test_sharded_server_accepts_on_every_loop(clean_exit):
    per_loop = {}

    class Proto(asyncio.Protocol):
        def connection_made(self, tr):
            i = aioloop.thread_index()
            per_loop[i] = per_loop.get(i, 0) + 1   # one writer per key
            self.tr = tr

        def data_received(self, data):
            self.tr.write(data)

    async def main(s):
        srv = await s.create_server(Proto, "127.0.0.1", 0)
        assert len(srv.sockets) == N and srv.is_serving()
        port = srv.sockets[0].getsockname()[1]
        assert {sk.getsockname()[1] for sk in srv.sockets} == {port}
        writers = []
        for _ in range(64):
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"x")
            assert await r.readexactly(1) == b"x"
            writers.append(w)
        for w in writers:
            w.close()
        srv.close()
        await srv.wait_closed()
        assert not srv.is_serving()

    with aioloop.Scheduler(threads=N) as s:
        s.run(main(s))
    assert sum(per_loop.values()) == 64
    assert set(per_loop) == set(range(N)), per_loop


def test_sharded_start_server_serves_streams(clean_exit):
    async def handler(r, w):
        w.write(str(aioloop.thread_index()).encode() + b"\n")
        await w.drain()
        w.close()

    async def main(s):
        async with await s.start_server(handler, "127.0.0.1", 0) as srv:
            port = srv.sockets[0].getsockname()[1]
            seen = set()
            for _ in range(40):
                r, w = await asyncio.open_connection("127.0.0.1", port)
                seen.add(int(await r.readline()))
                w.close()
            return seen

    with aioloop.Scheduler(threads=2) as s:
        assert s.run(main(s)) <= {0, 1}


# --- shutdown and failure --------------------------------------------------------

def test_shutdown_with_pending_work_on_every_thread_loses_and_leaves_nothing(clean_exit):
    finals = []
    spawned = []

    async def forever(i):
        try:
            await asyncio.sleep(100)
        finally:
            finals.append(i)

    async def agen():
        try:
            while True:
                yield 1
        finally:
            finals.append("agen")

    async def with_agen():
        g = agen()
        await g.__anext__()
        await asyncio.sleep(100)

    async def main(s):
        for i in range(N):
            spawned.append(s.spawn(forever(i), hint=i))
        spawned.append(s.spawn(with_agen(), hint=2))
        # Unstarted work queued behind a busy thread 3 when main returns.
        gate = threading.Event()
        s.sched(gate.wait, 0.2, hint=3)
        spawned.append(s.spawn(forever("queued"), hint=3))
        await asyncio.sleep(0.01)
        gate.set()

    s = aioloop.Scheduler(threads=N)
    with s:
        s.run(main(s))
    # The queued one ran only if it started before the shutdown began (then
    # it was cancelled like the others); otherwise it was cancelled unstarted.
    expected = list(range(N)) + ["agen"]
    if spawned[-1].thread is not None:
        expected.append("queued")
    assert sorted(map(str, finals)) == sorted(map(str, expected))
    assert all(sp.done() and sp.cancelled() for sp in spawned)
    assert all(loop.is_closed() for loop in s.loops)
    with pytest.raises(RuntimeError, match="closed"):
        s.sched(print)
    coro = a_where()
    with pytest.raises(RuntimeError, match="closed"):
        s.spawn(coro)


def test_close_without_running_shuts_down_cleanly(clean_exit):
    s = aioloop.Scheduler(threads=3)
    sp = s.spawn(a_where())
    s.close()
    assert sp.cancelled()
    assert all(loop.is_closed() for loop in s.loops)
    s.close()           # idempotent


def test_loop0_closed_after_run_until_complete_joins_every_thread(clean_exit):
    loop = aioloop.new_event_loop(threads=3)
    try:
        s = loop._aioloop_sched

        async def main():
            return await asyncio.gather(*(s.spawn(a_where(), hint=i)
                                          for i in range(3)))

        assert [r[0] for r in loop.run_until_complete(main())] == [0, 1, 2]
        s.spawn(asyncio.sleep(100), hint=2)     # still running at close
    finally:
        loop.close()
    assert all(lp.is_closed() for lp in s.loops)


@pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt()])
def test_base_exception_in_a_dispatch_thread_ends_run_with_it(clean_exit, exc):
    def raiser():
        raise exc

    async def main(s):
        s.sched(raiser, hint=2)
        await asyncio.sleep(100)

    with aioloop.Scheduler(threads=N) as s:
        with pytest.raises(type(exc)):
            s.run(main(s))
    assert all(loop.is_closed() for loop in s.loops)


# Run `main` under aioloop.run(threads=4) in a child; Ctrl-C must end it
# with KeyboardInterrupt and no thread left but the main one.
_CTRL_C_CHILD = """
import asyncio, signal, sys, threading, aioloop
{main}
try:
    aioloop.run(main(), threads=4)
except KeyboardInterrupt:
    print("interrupted", threading.active_count(), flush=True)
    sys.exit(0)
"""


def _assert_interrupted(proc, out):
    assert proc.returncode == 0
    assert out.split() == ["interrupted", "1"]


def test_ctrl_c_of_a_scheduler_run_ends_with_keyboard_interrupt_and_no_thread():
    code = _CTRL_C_CHILD.format(main=textwrap.dedent("""
        async def main():
            for i in range(4):
                aioloop.spawn(asyncio.sleep(100), hint=i)
            print("ready", flush=True)
            await asyncio.sleep(100)
    """))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    _assert_interrupted(proc, out)


def test_ctrl_c_delivered_to_another_dispatch_thread_still_interrupts_the_run():
    # The kernel hands a process-directed signal to any thread that does not
    # block it. Here it goes to dispatch thread 2 on purpose (pthread_kill),
    # while thread 0, where Python runs signal handlers, sleeps in epoll_wait
    # with nothing else to wake it.
    code = _CTRL_C_CHILD.format(main=textwrap.dedent("""
        async def ctrl_c_to_this_thread():
            await asyncio.sleep(0.2)
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        async def main():
            aioloop.spawn(ctrl_c_to_this_thread(), hint=2)
            await asyncio.sleep(100)
    """))
    proc = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE,
                          text=True, timeout=30)
    _assert_interrupted(proc, proc.stdout)


def test_a_forked_child_cannot_use_the_parents_scheduler_but_can_make_its_own():
    code = textwrap.dedent("""
        import asyncio, os, aioloop
        async def main():
            return aioloop.thread_index()
        s = aioloop.Scheduler(threads=2)
        pid = os.fork()
        if pid == 0:
            try:
                s.sched(print)
            except RuntimeError as e:
                ok = "fork" in str(e)
            else:
                ok = False
            ok = ok and aioloop.run(main(), threads=2) == 0
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        s.close()
        print(os.waitstatus_to_exitcode(status))
    """)
    assert run_python(code).strip() == "0"


def test_stats_count_what_ran_where(clean_exit):
    async def main(s):
        await asyncio.gather(*(s.spawn(a_where(), hint=i % N) for i in range(40)))
        return s.stats()

    with aioloop.Scheduler(threads=N) as s:
        st = s.run(main(s))
    assert [t["tasks_started"] for t in st["threads"]] == [10] * N
    assert st["total"]["tasks_started"] == 40
    assert st["total"]["callbacks"] >= 40


def test_bounded_queue_raises_on_a_dispatch_thread_and_blocks_a_plain_one(clean_exit):
    async def main(s):
        gate = threading.Event()
        # Thread 1 busy (hinted work goes to its inbox, not to a queue): it
        # neither takes from its queue nor steals from thread 0's meanwhile.
        s.sched(gate.wait, hint=1)
        await asyncio.sleep(0.01)
        ok = 0
        with pytest.raises(RuntimeError, match="full"):
            for _ in range(10):
                s.sched(int)        # thread 0's own queue; main does not yield
                ok += 1
        assert ok == 3
        blocked = threading.Event()
        returned = threading.Event()

        def plain():
            blocked.set()
            for _ in range(5):      # 3 fit in thread 1's queue, then it waits
                s.sched(int)
            returned.set()

        threading.Thread(target=plain).start()
        blocked.wait()
        assert not returned.wait(0.05)
        gate.set()
        assert await asyncio.to_thread(returned.wait, 10)

    with aioloop.Scheduler(threads=2, max_pending=3) as s:
        s.run(main(s))


def test_one_pass_moves_a_bounded_share_of_the_run_queue():
    # Fairness: a long run queue does not stop a loop from polling. With one
    # thread, a pass moves at most 128 queued callbacks into the ready queue;
    # a probe that re-schedules itself runs once per pass, before them.
    s = aioloop.Scheduler(threads=1)
    try:
        got = []
        seen = []
        loop = s.loops[0]

        def probe():
            seen.append(len(got))
            if len(seen) == 4:
                loop.stop()
            else:
                loop.call_soon(probe)

        loop.call_soon(probe)
        t = threading.Thread(target=lambda: [s.sched(got.append, i) for i in range(300)])
        t.start()
        t.join()
        loop.run_forever()
        assert seen == [0, 128, 256, 300]
        assert got == list(range(300))
    finally:
        s.close()


def test_signal_handlers_belong_to_thread_0(clean_exit):
    async def install():
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, print)

    async def main(s):
        with pytest.raises((RuntimeError, ValueError)):
            await s.spawn(install(), hint=1)
        await install()         # thread 0 is the main thread
        asyncio.get_running_loop().remove_signal_handler(signal.SIGUSR1)

    with aioloop.Scheduler(threads=2) as s:
        s.run(main(s))


def _settled(loop, timeout=5.0):
    # Until the loop's pass count stops moving: its thread is asleep.
    deadline = time.monotonic() + timeout
    passes = loop.stats()["passes"]
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now = loop.stats()["passes"]
        if now == passes:
            return
        passes = now
    raise AssertionError(f"{loop!r} never went to sleep")


def test_one_thread_work_on_loop_0_polls_no_more_than_a_plain_loop_and_wakes_no_sibling(clean_exit):
    # A program on threads=2 running only loop 0's own work must cost what
    # it costs on a plain loop. Loop 0 keeps the signal socket registered
    # for its whole life (it wakes loop 0 for a signal the kernel gave to
    # another thread), which a pass that does not sleep need not poll: a
    # chain of sleep(0)s makes no epoll_wait, as on a plain loop, unless a
    # signal handler needs the socket read.
    def thousand_passes(loop):
        async def chain():
            for _ in range(1000):
                await asyncio.sleep(0)
        before = loop.stats()
        loop.run_until_complete(chain())
        after = loop.stats()
        return {k: after[k] - before[k] for k in ("passes", "polls")}

    plain = aioloop.new_event_loop()
    try:
        thousand_passes(plain)      # warm-up: the first run makes a few passes more
        assert thousand_passes(plain) == {"passes": 1002, "polls": 0}
    finally:
        plain.close()

    loop = aioloop.new_event_loop(threads=2)
    try:
        s = loop._aioloop_sched
        thousand_passes(loop)       # starts thread 1
        sibling = s.loops[1]
        _settled(sibling)
        before = sibling.stats()["passes"], s.stats()["threads"][1]["sleeps"]
        assert thousand_passes(loop) == {"passes": 1002, "polls": 0}
        assert (sibling.stats()["passes"], s.stats()["threads"][1]["sleeps"]) == before
        loop.add_signal_handler(signal.SIGUSR1, print)
        assert thousand_passes(loop) == {"passes": 1002, "polls": 1002}
        loop.remove_signal_handler(signal.SIGUSR1)
        assert thousand_passes(loop) == {"passes": 1002, "polls": 0}
        # Going to sleep with nothing queued on any thread searches no
        # sibling (no steal attempt, no update of the shared search count).
        loop.run_until_complete(asyncio.sleep(0.01))
        st = s.stats()["threads"]
        assert st[0]["sleeps"] >= 1 and st[1]["sleeps"] == 0    # thread 1 never woke
        assert [t["steal_attempts"] for t in st] == [0, 0]
    finally:
        loop.close()
