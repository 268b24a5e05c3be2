"""Async generators: the loop's firstiter/finalizer hooks and shutdown_asyncgens."""

import asyncio
import gc
import sys

import pytest

from helpers import run_briefly


def _make_gen(trace, name):
    async def gen():
        try:
            for i in range(10):
                yield i
                await asyncio.sleep(0)
        finally:
            trace.append(f"{name} closed")
            await asyncio.sleep(0)  # aclose() really runs on the loop
            trace.append(f"{name} cleanup done")

    return gen()


def test_abandoned_async_generator_is_closed_on_the_loop(loop):
    trace = []

    async def main():
        g = _make_gen(trace, "g")
        assert await g.__anext__() == 0
        del g
        gc.collect()
        # The finalizer hook scheduled aclose() as a task on this loop.
        for _ in range(5):
            await asyncio.sleep(0)

    loop.run_until_complete(main())
    assert trace == ["g closed", "g cleanup done"]


def test_shutdown_asyncgens_closes_generators_still_alive(loop):
    trace = []
    gens = []

    async def main():
        for name in ("a", "b"):
            g = _make_gen(trace, name)
            await g.__anext__()
            gens.append(g)
        fresh = _make_gen(trace, "never started")  # not iterated: no hook ran
        fresh.aclose().close()

    loop.run_until_complete(main())
    assert trace == []
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert sorted(trace) == ["a cleanup done", "a closed", "b cleanup done", "b closed"]


def test_shutdown_asyncgens_reports_an_aclose_error_to_the_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    keep = []

    async def bad():
        try:
            yield 1
        finally:
            raise ValueError("cleanup failed")

    async def main():
        g = bad()
        await g.__anext__()
        keep.append(g)

    loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert len(contexts) == 1
    assert isinstance(contexts[0]["exception"], ValueError)
    assert contexts[0]["message"].startswith("an error occurred during closing of asynchronous generator")


def test_async_generator_first_iterated_after_shutdown_warns(loop):
    loop.run_until_complete(loop.shutdown_asyncgens())

    async def gen():
        yield 1

    async def main():
        g = gen()
        with pytest.warns(ResourceWarning, match="asynchronous generator .* was scheduled after loop.shutdown_asyncgens"):
            await g.__anext__()
        await g.aclose()

    loop.run_until_complete(main())


def test_asyncgen_hooks_are_installed_only_while_running(loop):
    before = sys.get_asyncgen_hooks()
    seen = []
    loop.call_soon(lambda: seen.append(sys.get_asyncgen_hooks()))
    run_briefly(loop)
    firstiter, finalizer = seen[0]
    assert firstiter is not None and finalizer is not None
    assert firstiter != before.firstiter
    assert sys.get_asyncgen_hooks() == before


def test_asyncgen_hooks_are_restored_after_an_exception(loop):
    before = sys.get_asyncgen_hooks()

    def interrupt():
        raise KeyboardInterrupt

    loop.call_soon(interrupt)
    with pytest.raises(KeyboardInterrupt):
        loop.run_forever()
    assert sys.get_asyncgen_hooks() == before
