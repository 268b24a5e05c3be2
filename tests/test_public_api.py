"""The public face: aioloop.run, new_event_loop, Loop, EventLoopPolicy,
install, the asyncio entry points with loop_factory, tasks and task
factories, and pytest-asyncio running on aioloop."""

import asyncio
import contextvars

import pytest

import aioloop
from helpers import PY312
from helpers import run_briefly


async def _which_loop(result="done"):
    await asyncio.sleep(0.001)
    return asyncio.get_running_loop(), result


def test_new_event_loop_returns_an_asyncio_loop_of_our_own():
    loop = aioloop.new_event_loop()
    try:
        assert type(loop) is aioloop.Loop
        assert isinstance(loop, asyncio.AbstractEventLoop)
        # Our own run cycle, not asyncio's.
        assert not isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()


def test_new_event_loop_makes_a_new_loop_each_time():
    a, b = aioloop.new_event_loop(), aioloop.new_event_loop()
    try:
        assert a is not b
        assert not a.is_running() and not a.is_closed()
    finally:
        a.close()
        b.close()


def test_run_returns_the_value_and_closes_the_loop():
    loop, result = aioloop.run(_which_loop("value"))
    assert result == "value"
    assert type(loop) is aioloop.Loop
    assert loop.is_closed()


def test_run_propagates_the_exception_and_closes_the_loop():
    seen = []

    async def fail():
        seen.append(asyncio.get_running_loop())
        raise KeyError("x")

    with pytest.raises(KeyError):
        aioloop.run(fail())
    assert seen[0].is_closed()


@pytest.mark.parametrize("name", ["asyncio", "aioloop"])
def test_run_inside_a_running_loop_raises_one_clear_error(name):
    run = {"asyncio": asyncio.run, "aioloop": aioloop.run}[name]

    async def inner():
        return 1

    async def main():
        coro = inner()
        try:
            run(coro)
        except RuntimeError as exc:
            return exc
        finally:
            coro.close()

    exc = asyncio.run(main())
    assert str(exc) == f"{name}.run() cannot be called from a running event loop"
    # One error, not a second one raised while cleaning up after the first.
    assert exc.__context__ is None and exc.__cause__ is None


def test_run_passes_runner_keywords_through():
    made = []

    def factory():
        loop = aioloop.new_event_loop()
        made.append(loop)
        return loop

    loop, _ = aioloop.run(_which_loop(), loop_factory=factory)
    assert made == [loop]


def test_run_shuts_down_async_generators_and_the_executor():
    trace = []

    async def gen():
        try:
            yield 1
            yield 2
        finally:
            trace.append("gen closed")

    async def main():
        g = gen()
        await g.__anext__()
        await asyncio.get_running_loop().run_in_executor(None, trace.append, "executor ran")
        main.g = g  # keep it alive until the runner shuts generators down

    aioloop.run(main())
    assert trace == ["executor ran", "gen closed"]


def test_asyncio_runner_with_aioloop_factory():
    with asyncio.Runner(loop_factory=aioloop.new_event_loop) as runner:
        loop, result = runner.run(_which_loop(1))
        assert runner.get_loop() is loop
        _, result2 = runner.run(_which_loop(2))
    assert type(loop) is aioloop.Loop
    assert (result, result2) == (1, 2)
    assert loop.is_closed()


@pytest.mark.skipif(not PY312, reason="asyncio.run() has no loop_factory parameter before Python 3.12")
def test_asyncio_run_with_loop_factory():
    loop, result = asyncio.run(_which_loop("x"), loop_factory=aioloop.new_event_loop)
    assert type(loop) is aioloop.Loop
    assert result == "x"
    assert loop.is_closed()


def test_event_loop_policy_makes_aioloop_loops():
    policy = aioloop.EventLoopPolicy()
    assert isinstance(policy, asyncio.AbstractEventLoopPolicy)
    loop = policy.new_event_loop()
    try:
        assert type(loop) is aioloop.Loop
    finally:
        loop.close()


def test_install_sets_the_policy_used_by_asyncio_run():
    aioloop.install()
    try:
        assert isinstance(asyncio.get_event_loop_policy(), aioloop.EventLoopPolicy)
        loop = asyncio.new_event_loop()
        try:
            assert type(loop) is aioloop.Loop
        finally:
            loop.close()
        loop, _ = asyncio.run(_which_loop())
        assert type(loop) is aioloop.Loop
    finally:
        asyncio.set_event_loop_policy(None)


def test_get_running_loop_and_is_running_inside_callbacks(loop):
    seen = []
    loop.call_soon(lambda: seen.append((asyncio.get_running_loop(), loop.is_running())))
    assert not loop.is_running()
    run_briefly(loop)
    assert seen == [(loop, True)]
    assert not loop.is_running()
    with pytest.raises(RuntimeError, match="no running event loop"):
        asyncio.get_running_loop()


def test_run_until_complete_returns_the_result_or_raises(loop):
    assert loop.run_until_complete(asyncio.sleep(0.001, result=5)) == 5

    async def fail():
        raise ValueError("v")

    with pytest.raises(ValueError):
        loop.run_until_complete(fail())
    fut = loop.create_future()
    loop.call_later(0.001, fut.set_result, "f")
    assert loop.run_until_complete(fut) == "f"


def test_run_until_complete_stops_when_the_future_is_done_even_if_callbacks_remain(loop):
    trace = []

    def forever():
        trace.append(1)
        loop.call_soon(forever)

    async def main():
        loop.call_soon(forever)
        await asyncio.sleep(0.01)
        return "done"

    assert loop.run_until_complete(main()) == "done"
    assert trace  # ran alongside
    assert not loop.is_running()


def test_create_future_belongs_to_the_loop(loop):
    fut = loop.create_future()
    assert isinstance(fut, asyncio.Future)
    assert fut.get_loop() is loop


def test_create_task_name_and_context(loop):
    var = contextvars.ContextVar("v", default="default")
    ctx = contextvars.Context()
    ctx.run(var.set, "ctx value")

    async def main():
        return var.get()

    task = loop.create_task(main(), name="my task", context=ctx)
    assert isinstance(task, asyncio.Task)
    assert task.get_name() == "my task"
    assert task.get_loop() is loop
    assert loop.run_until_complete(task) == "ctx value"
    unnamed = loop.create_task(main())
    assert unnamed.get_name().startswith("Task-")
    assert loop.run_until_complete(unnamed) == "default"


def test_set_task_factory_is_called_with_the_documented_signature(loop):
    calls = []

    def factory(lp, coro, **kwargs):
        calls.append((lp, sorted(kwargs)))
        return asyncio.Task(coro, loop=lp, **kwargs)

    async def main():
        return 1

    assert loop.get_task_factory() is None
    loop.set_task_factory(factory)
    assert loop.get_task_factory() is factory
    t1 = loop.create_task(main())
    t2 = loop.create_task(main(), name="named")
    t3 = loop.create_task(main(), context=contextvars.copy_context())
    # factory(loop, coro) unless a context is given: factory(loop, coro, context=ctx).
    assert calls == [(loop, []), (loop, []), (loop, ["context"])]
    assert t2.get_name() == "named"
    loop.run_until_complete(asyncio.gather(t1, t2, t3))
    loop.set_task_factory(None)
    assert loop.get_task_factory() is None


def test_task_factory_is_used_by_ensure_future_and_gather(loop):
    made = []

    def factory(lp, coro, **kwargs):
        made.append(coro)
        return asyncio.Task(coro, loop=lp, **kwargs)

    loop.set_task_factory(factory)

    async def child():
        return 2

    async def main():
        return await asyncio.gather(child(), child())

    assert loop.run_until_complete(main()) == [2, 2]
    assert len(made) == 3


@pytest.mark.skipif(not PY312, reason="asyncio.eager_task_factory is new in Python 3.12")
def test_eager_task_factory_runs_the_coroutine_at_creation(loop):
    trace = []

    async def quick():
        trace.append("ran")
        return 7

    async def slow():
        trace.append("slow started")
        await asyncio.sleep(0)
        trace.append("slow finished")
        return 8

    async def main():
        loop.set_task_factory(asyncio.eager_task_factory)
        t = loop.create_task(quick())
        assert trace == ["ran"]
        assert t.done() and t.result() == 7
        s = loop.create_task(slow())
        assert trace == ["ran", "slow started"]
        assert not s.done()
        return await s

    assert loop.run_until_complete(main()) == 8
    loop.set_task_factory(None)


def test_stats_report_the_loops_counters():
    loop = aioloop.new_event_loop()
    try:
        loop.call_soon(int)
        loop.call_later(0, int)
        run_briefly(loop)
        stats = loop.stats()
        assert {"callbacks", "polls", "io_events", "timers_scheduled", "inbox_wakeups",
                "ready", "timers", "timers_cancelled", "inbox"} <= set(stats)
        assert stats["callbacks"] == 2
        assert stats["polls"] <= 1  # a zero-timeout poll of no fd may be skipped
        assert stats["timers_scheduled"] == 1
        assert stats["ready"] == 0
    finally:
        loop.close()


def test_time_is_the_monotonic_clock(loop):
    import time

    t0 = time.monotonic()
    t = loop.time()
    t1 = time.monotonic()
    assert t0 <= t <= t1


def test_repr_shows_the_state(loop):
    loop.set_debug(False)
    r = repr(loop)
    assert "running=False" in r and "closed=False" in r and "debug=False" in r
    loop.set_debug(True)
    assert "debug=True" in repr(loop)


@pytest.mark.asyncio
async def test_pytest_asyncio_runs_async_tests_on_aioloop():
    loop = asyncio.get_running_loop()
    assert type(loop) is aioloop.Loop
    assert await asyncio.sleep(0.001, result="slept") == "slept"


@pytest.mark.asyncio
async def test_pytest_asyncio_test_can_use_tasks_and_threads():
    loop = asyncio.get_running_loop()
    results = await asyncio.gather(asyncio.to_thread(sum, [1, 2, 3]), asyncio.sleep(0, result=4))
    assert results == [6, 4]
    assert type(loop) is aioloop.Loop


def test_wait_for_timeout_and_cancellation(loop):
    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.sleep(10), 0.01)
        task = asyncio.ensure_future(asyncio.sleep(10))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return "ok"

    assert loop.run_until_complete(main()) == "ok"


def test_version_on_the_command_line_and_in_the_package():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "aioloop", "--version"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"aioloop {aioloop.__version__}"


def test_importing_on_another_platform_fails_with_one_clear_sentence():
    import subprocess
    import sys
    code = "import sys; sys.platform = 'darwin'; import aioloop"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "ImportError: aioloop runs on Linux only: its loop is made of epoll, "
        "eventfd and pidfd, which darwin does not have")
