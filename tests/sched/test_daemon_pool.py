"""The daemon pool (aioloop.DaemonPool), the default executor.

As a concurrent.futures executor it must behave as ThreadPoolExecutor does:
the pool-level tests run on both (ThreadPoolExecutor is the oracle). The
run_in_executor tests run on both loops (stock asyncio is the oracle)."""

import asyncio
import concurrent.futures
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import aioloop
from helpers import (in_forked_child, open_fds, run_briefly, run_python,
                     take_fd_numbers_up_to, wait_for_threads,
                     wait_until_asleep_in_poll)

EXECUTORS = {
    "ThreadPoolExecutor": concurrent.futures.ThreadPoolExecutor,
    "DaemonPool": aioloop.DaemonPool,
}


@pytest.fixture(params=list(EXECUTORS))
def executor_class(request):
    return EXECUTORS[request.param]


# --- the executor contract ----------------------------------------------------


def test_submit_map_and_exceptions(executor_class):
    with executor_class(max_workers=3) as pool:
        assert pool.submit(pow, 2, 10).result(5) == 1024
        assert pool.submit(dict, a=1).result(5) == {"a": 1}
        assert list(pool.map(abs, range(-50, 0))) == list(range(50, 0, -1))
        fut = pool.submit(int, "x")
        with pytest.raises(ValueError):
            fut.result(5)
        # BaseException too is delivered to the future, not lost.
        fut = pool.submit(sys.exit, 3)
        assert isinstance(fut.exception(5), SystemExit)


def test_at_most_max_workers_threads_and_all_jobs_run(executor_class):
    seen = set()
    lock = threading.Lock()

    def job(i):
        with lock:
            seen.add(threading.current_thread().name)
        time.sleep(0.001)
        return i

    with executor_class(max_workers=4, thread_name_prefix="px") as pool:
        futs = [pool.submit(job, i) for i in range(200)]
        assert [f.result(10) for f in futs] == list(range(200))
    assert 1 <= len(seen) <= 4
    assert all(name.startswith("px") for name in seen)


def test_one_worker_runs_jobs_in_submission_order(executor_class):
    order = []
    with executor_class(max_workers=1) as pool:
        for i in range(100):
            pool.submit(order.append, i)
    assert order == list(range(100))


def test_shutdown_runs_queued_jobs_then_refuses_new_ones(executor_class):
    gate = threading.Event()
    done = []
    pool = executor_class(max_workers=1)
    pool.submit(gate.wait, 5)
    futs = [pool.submit(done.append, i) for i in range(5)]
    gate.set()
    pool.shutdown(wait=True)
    assert done == list(range(5))
    assert all(f.done() for f in futs)
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        pool.submit(int)


def test_shutdown_joins_threads_that_submissions_are_still_starting(executor_class):
    # A submit() that got in before shutdown() may still be starting the
    # thread for its job: shutdown(wait=True) must wait for that thread too,
    # so every job it accepted has run when it returns.
    for _ in range(30):
        pool = executor_class(max_workers=8)
        go = threading.Barrier(9)
        accepted = []

        def submit():
            go.wait()
            try:
                accepted.append(pool.submit(int, 1))
            except RuntimeError:
                pass        # refused: shutdown() came first

        submitters = [threading.Thread(target=submit) for _ in range(8)]
        for t in submitters:
            t.start()
        go.wait()
        pool.shutdown(wait=True)
        for t in submitters:
            t.join()
        assert all(f.done() and f.result() == 1 for f in accepted)


def test_shutdown_cancel_futures_cancels_what_has_not_started(executor_class):
    gate = threading.Event()
    started = threading.Event()

    def first_job():
        started.set()
        return gate.wait(5)

    pool = executor_class(max_workers=1)
    running = pool.submit(first_job)
    queued = [pool.submit(int, i) for i in range(5)]
    assert started.wait(5)     # the first job runs: it cannot be cancelled
    pool.shutdown(wait=False, cancel_futures=True)
    gate.set()
    assert running.result(5) is True
    assert all(f.cancelled() for f in queued)
    pool.shutdown(wait=True)


def test_invalid_arguments(executor_class):
    with pytest.raises(ValueError, match="max_workers must be greater than 0"):
        executor_class(max_workers=0)
    with pytest.raises(TypeError, match="initializer must be a callable"):
        executor_class(initializer=42)


def test_initializer_runs_in_each_thread(executor_class):
    local = threading.local()

    def init(value):
        local.value = value

    with executor_class(max_workers=2, initializer=init, initargs=("v",)) as pool:
        assert pool.submit(lambda: local.value).result(5) == "v"


def test_failing_initializer_breaks_the_pool(executor_class):
    def init():
        raise OSError("no")

    pool = executor_class(max_workers=1, initializer=init)
    fut = pool.submit(int)
    with pytest.raises(concurrent.futures.thread.BrokenThreadPool):
        fut.result(5)
    with pytest.raises(concurrent.futures.thread.BrokenThreadPool):
        pool.submit(int)
    pool.shutdown(wait=True)


def test_shutdown_from_a_pool_thread_does_not_deadlock(executor_class):
    pool = executor_class(max_workers=2)
    fut = pool.submit(lambda: pool.shutdown(wait=False))
    assert fut.result(5) is None
    pool.shutdown(wait=True)


def test_interpreter_exit_does_not_wait_for_an_unclosed_pool(executor_class):
    # Neither the pool nor the loop is shut down: exit must still happen,
    # as with ThreadPoolExecutor (whose atexit hook joins its idle threads).
    code = textwrap.dedent(f"""
        import asyncio, concurrent.futures, aioloop
        pool = {'aioloop.DaemonPool' if executor_class is aioloop.DaemonPool else 'concurrent.futures.ThreadPoolExecutor'}()
        print(pool.submit(pow, 2, 5).result())
        loop = aioloop.new_event_loop()
        print(loop.run_until_complete(loop.run_in_executor(None, pow, 2, 6)))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["32", "64"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_pool_works_in_a_forked_child():
    # Better than the oracle here: a ThreadPoolExecutor used before fork()
    # hangs in the child (it counts the parent's vanished threads as idle).
    # The DaemonPool forgets its threads in the child and starts new ones.
    pool = aioloop.DaemonPool(max_workers=2)
    assert pool.submit(int, "1").result(5) == 1
    code = in_forked_child(lambda: pool.submit(int, "7").result(5) == 7)
    pool.shutdown()
    assert code == 0


# --- run_in_executor on both loops ---------------------------------------------


def test_run_in_executor_many_concurrent_calls(loop):
    async def main():
        return await asyncio.gather(*(loop.run_in_executor(None, pow, i, 2) for i in range(500)))

    assert loop.run_until_complete(main()) == [i * i for i in range(500)]
    loop.run_until_complete(loop.shutdown_default_executor())


def test_run_in_executor_sequential_round_trips(loop):
    async def main():
        total = 0
        for i in range(2000):
            total += await loop.run_in_executor(None, abs, -i)
        return total

    assert loop.run_until_complete(main()) == sum(range(2000))
    loop.run_until_complete(loop.shutdown_default_executor())


# asyncio's loop takes a ThreadPoolExecutor, aioloop's its DaemonPool: each
# loop's own kind of default executor.
EXECUTOR_FOR = {
    "asyncio": concurrent.futures.ThreadPoolExecutor,
    "aioloop": aioloop.DaemonPool,
}


def test_run_in_executor_cancelled_before_it_starts_is_not_called(loop, loop_name):
    gate = threading.Event()
    called = []

    async def main():
        loop.set_default_executor(EXECUTOR_FOR[loop_name](max_workers=1))
        blocker = loop.run_in_executor(None, gate.wait, 5)
        fut = loop.run_in_executor(None, called.append, 1)
        fut.cancel()
        # asyncio passes the cancellation on to its concurrent future in a
        # done-callback: let that run before the worker can reach the job.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        gate.set()
        await blocker
        # One more round trip: everything queued before it has run or not.
        await loop.run_in_executor(None, int)
        return fut.cancelled()

    assert loop.run_until_complete(main()) is True
    assert called == []
    loop.run_until_complete(loop.shutdown_default_executor())


def test_run_in_executor_delivers_on_the_loop_thread_and_wakes_a_sleeping_loop(loop):
    # The job finishes while the loop sleeps in epoll_wait with no timer:
    # only the pool's wake can end that sleep.
    seen = []
    loop_thread = threading.get_native_id()

    async def main():
        fut = loop.run_in_executor(None, wait_until_asleep_in_poll, loop_thread)
        fut.add_done_callback(lambda f: seen.append(threading.get_ident()))
        await fut

    loop.run_until_complete(main())
    assert seen == [threading.get_ident()]
    loop.run_until_complete(loop.shutdown_default_executor())


def test_run_in_executor_job_outlives_the_loop(loop_factory):
    # The loop closes while a job runs: the job finishes, its result has
    # nowhere to go, nothing crashes and no thread stays behind.
    baseline = threading.active_count()
    loop = loop_factory()
    started = threading.Event()

    def job():
        started.set()
        time.sleep(0.1)
        return 1

    loop.run_in_executor(None, job)
    assert started.wait(5)
    loop.close()
    assert wait_for_threads(baseline) == baseline


def test_call_soon_threadsafe_on_a_loop_closed_meanwhile_raises(loop):
    loop.close()
    errors = []

    def other_thread():
        try:
            loop.call_soon_threadsafe(int)
        except RuntimeError as e:
            errors.append(str(e))

    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    assert errors == ["Event loop is closed"]


def test_shutdown_cancel_futures_cancels_queued_asyncio_futures():
    # aioloop's own path: run_in_executor's asyncio futures sit in the
    # DaemonPool's queue (asyncio's loop wraps concurrent futures instead).
    loop = aioloop.new_event_loop()
    pool = aioloop.DaemonPool(max_workers=1)
    gate = threading.Event()

    async def main():
        loop.set_default_executor(pool)
        running = loop.run_in_executor(None, gate.wait, 5)
        queued = [loop.run_in_executor(None, int, i) for i in range(3)]
        await asyncio.sleep(0.05)
        pool.shutdown(wait=False, cancel_futures=True)
        gate.set()
        assert await running is True
        await asyncio.sleep(0.05)
        return [f.cancelled() for f in queued]

    try:
        assert loop.run_until_complete(main()) == [True, True, True]
    finally:
        pool.shutdown(wait=True)
        loop.close()


# --- races between threads -------------------------------------------------------


def test_loops_in_several_threads_share_one_pool(loop_name, loop_factory):
    # Several loops, each in its own thread, use one pool as their default
    # executor at once: every result comes back exact, to the loop that asked,
    # on that loop's thread.
    n_loops, n_calls = 4, 300
    pool = EXECUTOR_FOR[loop_name](max_workers=4)
    results = [None] * n_loops
    errors = []
    all_done = threading.Barrier(n_loops)

    def job(t, i):
        return t, i, threading.get_ident()

    def run_one(t):
        lp = loop_factory()
        lp.set_default_executor(pool)

        async def main():
            me = threading.get_ident()
            wrong_thread = []

            def check(fut):
                if threading.get_ident() != me:
                    wrong_thread.append(fut)

            futs = [lp.run_in_executor(None, job, t, i) for i in range(n_calls)]
            for f in futs:
                f.add_done_callback(check)
            burst = await asyncio.gather(*futs)
            chain = [await lp.run_in_executor(None, job, t, i) for i in range(n_calls)]
            return burst, chain, wrong_thread

        try:
            results[t] = lp.run_until_complete(asyncio.wait_for(main(), 60))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append((t, repr(exc)))
        finally:
            all_done.wait(60)   # close() shuts the shared pool down
            lp.close()

    threads = [threading.Thread(target=run_one, args=(t,)) for t in range(n_loops)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    pool.shutdown(wait=True)
    assert errors == []
    for t in range(n_loops):
        burst, chain, wrong_thread = results[t]
        assert [r[:2] for r in burst] == [(t, i) for i in range(n_calls)]
        assert [r[:2] for r in chain] == [(t, i) for i in range(n_calls)]
        assert wrong_thread == []


def test_shutdown_cancel_futures_racing_submitters_leaves_every_future_done(executor_class):
    # Threads submit until refused while shutdown(wait=True, cancel_futures=True)
    # runs: each accepted future is, once shutdown() returns, either cancelled
    # or finished (wait=True joins every thread that took a job), each job ran
    # at most once, and none runs afterwards.
    n_threads = 4
    for _ in range(25):
        pool = executor_class(max_workers=3)
        lock = threading.Lock()
        ran = [0]
        futures = [[] for _ in range(n_threads)]
        errors = []
        go = threading.Barrier(n_threads + 1)

        def job(i):
            time.sleep(0.0002)
            with lock:
                ran[0] += 1
            return i

        def submitter(t):
            go.wait()
            i = 0
            while True:
                try:
                    futures[t].append(pool.submit(job, i))
                except RuntimeError as exc:
                    if "cannot schedule new futures after" not in str(exc):
                        errors.append(repr(exc))
                    return
                i += 1

        threads = [threading.Thread(target=submitter, args=(t,)) for t in range(n_threads)]
        for th in threads:
            th.start()
        go.wait()
        time.sleep(0.002)
        pool.shutdown(wait=True, cancel_futures=True)
        with lock:
            ran_at_return = ran[0]
        for th in threads:
            th.join()
        flat = [f for fs in futures for f in fs]
        not_done = [f for f in flat if not f.done()]
        time.sleep(0.02)
        assert errors == []
        assert not_done == []
        finished = [f for f in flat if not f.cancelled()]
        assert all(f.exception() is None for f in finished)
        assert ran[0] == ran_at_return == len(finished)


def test_loop_close_racing_pool_completions_refuses_them_and_never_writes_a_stale_fd():
    # aioloop only: pool threads keep finishing jobs of a loop that closes
    # under them (close() shuts the pool down without cancelling, so queued
    # jobs still run and post their results to a closed inbox). Every job
    # runs once, the posts after close() are dropped, and no pool thread
    # writes the loop's old eventfd number, reused at once by an eventfd of
    # ours that must stay at zero.
    for _ in range(10):
        pool = aioloop.DaemonPool(max_workers=3)
        lock = threading.Lock()
        ran = [0]
        before = {fd for fd, t in open_fds().items() if t == "anon_inode:[eventfd]"}
        lp = aioloop.new_event_loop()
        (wakefd,) = {fd for fd, t in open_fds().items()
                     if t == "anon_inode:[eventfd]"} - before
        lp.set_default_executor(pool)

        def job(i):
            if i % 7 == 0:
                time.sleep(0.0002)
            with lock:
                ran[0] += 1
            return i

        futs = [lp.run_in_executor(None, job, i) for i in range(400)]
        for _ in range(5):
            run_briefly(lp)
        lp.close()
        mine = take_fd_numbers_up_to(wakefd)
        try:
            pool.shutdown(wait=True)
            for fd in mine:
                with pytest.raises(BlockingIOError):
                    os.eventfd_read(fd)
        finally:
            for fd in mine:
                os.close(fd)
        assert ran[0] == 400


def test_jobs_queued_before_fork_do_not_run_in_the_child():
    # A job queued in the parent is the parent's: it runs there once, never
    # also in a fork()ed child that starts using the pool.
    out = run_python(textwrap.dedent(r"""
        import os, threading, aioloop
        pool = aioloop.DaemonPool(max_workers=1)
        gate = threading.Event()
        r, w = os.pipe()
        blocker = pool.submit(gate.wait, 10)
        queued = [pool.submit(os.write, w, b"%d " % i) for i in range(3)]
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = 0 if pool.submit(int, "7").result(5) == 7 else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        gate.set()
        [f.result(5) for f in queued]
        pool.shutdown()
        os.close(w)
        print(code, os.read(r, 100).decode().split())
    """))
    assert out.split("\n")[0] == "0 ['0', '1', '2']"


def test_fork_while_pool_threads_post_to_a_running_loop():
    # Pool threads post results to a loop running in another thread, taking
    # its inbox's lock without the GIL, while the main thread forks again and
    # again. In each child the inherited loop refuses call_soon_threadsafe
    # (it belongs to the parent) instead of blocking on a lock that a vanished
    # thread held, and a fresh loop with the inherited pool works.
    out = run_python(textwrap.dedent(r"""
        import asyncio, os, signal, threading, aioloop
        loop = aioloop.new_event_loop()
        stop = threading.Event()

        async def churn():
            n = 0
            while not stop.is_set():
                await loop.run_in_executor(None, abs, -n)
                n += 1
            return n

        t = threading.Thread(target=lambda: loop.run_until_complete(churn()))
        t.start()
        codes = []
        for _ in range(30):
            pid = os.fork()
            if pid == 0:
                signal.alarm(10)
                code = 3
                try:
                    try:
                        loop.call_soon_threadsafe(int)
                        code = 4
                    except RuntimeError as exc:
                        code = 0 if "fork" in str(exc) else 5
                    fresh = aioloop.new_event_loop()
                    got = fresh.run_until_complete(fresh.run_in_executor(None, abs, -7))
                    fresh.close()
                    if got != 7:
                        code = 6
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            codes.append(os.waitstatus_to_exitcode(status))
        stop.set()
        t.join()
        loop.close()
        print(codes)
    """))
    assert out.strip() == str([0] * 30)
