"""run_in_executor, set_default_executor and shutdown_default_executor."""

import asyncio
import concurrent.futures
import threading
import time

import pytest

from helpers import wait_for_threads


def test_run_in_executor_returns_the_result_from_another_thread(loop):
    async def main():
        return await loop.run_in_executor(None, lambda a, b: (a + b, threading.get_ident()), 2, 3)

    result, tid = loop.run_until_complete(main())
    assert result == 5
    assert tid != threading.get_ident()
    loop.run_until_complete(loop.shutdown_default_executor())


def test_run_in_executor_propagates_the_exception(loop):
    def fail():
        raise KeyError("k")

    async def main():
        with pytest.raises(KeyError):
            await loop.run_in_executor(None, fail)

    loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_default_executor())


def test_run_in_executor_uses_the_given_executor(loop):
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mine") as pool:
        name = loop.run_until_complete(
            loop.run_in_executor(pool, lambda: threading.current_thread().name))
    assert name.startswith("mine")


def test_set_default_executor_is_used_and_type_checked(loop):
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="default")
    loop.set_default_executor(pool)
    name = loop.run_until_complete(
        loop.run_in_executor(None, lambda: threading.current_thread().name))
    assert name.startswith("default")
    with pytest.raises(TypeError, match="executor must be ThreadPoolExecutor instance"):
        loop.set_default_executor(concurrent.futures.ProcessPoolExecutor())
    with pytest.raises(TypeError):
        loop.set_default_executor(object())
    loop.run_until_complete(loop.shutdown_default_executor())
    pool.shutdown()


def test_run_in_executor_after_shutdown_default_executor_raises(loop):
    loop.run_until_complete(loop.run_in_executor(None, int))
    loop.run_until_complete(loop.shutdown_default_executor())
    with pytest.raises(RuntimeError, match="Executor shutdown has been called"):
        loop.run_in_executor(None, int)
    # An explicit executor still works.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert loop.run_until_complete(loop.run_in_executor(pool, int, "7")) == 7


def test_shutdown_default_executor_without_an_executor_returns(loop):
    assert loop.run_until_complete(loop.shutdown_default_executor()) is None


def test_shutdown_default_executor_joins_the_worker_threads(loop):
    baseline = threading.active_count()
    loop.run_until_complete(asyncio.gather(*(loop.run_in_executor(None, time.sleep, 0.01) for _ in range(4))))
    assert threading.active_count() > baseline
    loop.run_until_complete(loop.shutdown_default_executor())
    assert threading.active_count() == baseline


def test_close_leaves_no_executor_thread_behind(loop_factory):
    baseline = threading.active_count()
    loop = loop_factory()
    loop.run_until_complete(loop.run_in_executor(None, int))
    loop.close()
    assert wait_for_threads(baseline) == baseline
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        loop.run_in_executor(None, int)


def test_run_in_executor_rejects_a_coroutine_function_in_debug_mode(loop):
    loop.set_debug(True)

    async def coro():
        pass

    with pytest.raises(TypeError, match="coroutines cannot be used with run_in_executor"):
        loop.run_in_executor(None, coro)
