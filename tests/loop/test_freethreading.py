"""On a free-threaded CPython (3.13t), importing aioloop keeps the GIL off
and loops in several threads stay correct. Skipped on GIL builds, where
there is nothing to check (build one with
../shared/tools/get_freethreaded_python.sh and run tests/run.sh's pytest
command with it)."""
import asyncio
import subprocess
import sys
import sysconfig
import threading

import pytest

import aioloop

free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
pytestmark = pytest.mark.skipif(not free_threaded, reason="not a free-threaded CPython build")


def test_importing_aioloop_keeps_the_gil_disabled():
    out = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c",
         "import sys, aioloop; print(sys._is_gil_enabled())"],
        capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_loops_in_parallel_threads_each_finish_their_work():
    results = []

    def run_one(i):
        async def main():
            total = 0
            for k in range(20_000):
                await asyncio.sleep(0)
                total += k
            return i, total
        results.append(aioloop.run(main()))

    threads = [threading.Thread(target=run_one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [(i, sum(range(20_000))) for i in range(4)]


def test_inbox_from_many_producer_threads_is_exact_and_fifo_per_thread():
    producers, per = 8, 20_000

    async def main():
        loop = asyncio.get_running_loop()
        got = {i: [] for i in range(producers)}
        done = loop.create_future()
        count = 0

        def cb(i, k):
            nonlocal count
            got[i].append(k)
            count += 1
            if count == producers * per:
                done.set_result(None)

        def produce(i):
            for k in range(per):
                loop.call_soon_threadsafe(cb, i, k)

        threads = [threading.Thread(target=produce, args=(i,)) for i in range(producers)]
        for t in threads:
            t.start()
        await asyncio.wait_for(done, 60)
        for t in threads:
            t.join()
        return got

    got = aioloop.run(main())
    assert all(got[i] == list(range(per)) for i in range(producers))
