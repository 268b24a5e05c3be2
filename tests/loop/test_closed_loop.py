"""A closed loop: scheduling raises RuntimeError('Event loop is closed'),
close() is idempotent, and a running loop cannot be closed."""

import asyncio
import socket

import pytest

from helpers import DEBUG_DEFAULT, open_fds


async def _coro():
    return 1


SCHEDULING_CALLS = {
    "call_soon": lambda lp: lp.call_soon(int),
    "call_later": lambda lp: lp.call_later(1, int),
    "call_at": lambda lp: lp.call_at(1, int),
    "call_soon_threadsafe": lambda lp: lp.call_soon_threadsafe(int),
    "run_forever": lambda lp: lp.run_forever(),
    "run_until_complete": lambda lp: lp.run_until_complete(lp.create_future()),
    "run_in_executor": lambda lp: lp.run_in_executor(None, int),
    "add_reader": lambda lp: lp.add_reader(0, int),
    "add_writer": lambda lp: lp.add_writer(1, int),
}


@pytest.mark.parametrize("method", list(SCHEDULING_CALLS))
def test_scheduling_on_a_closed_loop_raises(loop, method):
    loop.close()
    with pytest.raises(RuntimeError, match="^Event loop is closed$"):
        SCHEDULING_CALLS[method](loop)


def test_create_task_on_a_closed_loop_raises(loop):
    loop.close()
    coro = _coro()
    with pytest.raises(RuntimeError, match="^Event loop is closed$"):
        loop.create_task(coro)
    coro.close()


def test_remove_reader_and_writer_on_a_closed_loop_return_false(loop):
    a, b = socket.socketpair()
    try:
        loop.add_reader(a, int)
        loop.add_writer(a, int)
        loop.close()
        assert loop.remove_reader(a) is False
        assert loop.remove_writer(a) is False
    finally:
        a.close()
        b.close()


def test_close_is_idempotent(loop):
    assert not loop.is_closed()
    loop.close()
    assert loop.is_closed()
    loop.close()
    assert loop.is_closed()


def test_close_while_running_raises_and_leaves_the_loop_usable(loop):
    errors = []

    def try_close():
        try:
            loop.close()
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.stop()

    loop.call_soon(try_close)
    loop.run_forever()
    assert errors == ["Cannot close a running event loop"]
    assert not loop.is_closed()
    assert loop.run_until_complete(_coro()) == 1


def test_harmless_methods_still_work_on_a_closed_loop(loop):
    loop.close()
    loop.stop()
    assert isinstance(loop.time(), float)
    assert loop.get_debug() is DEBUG_DEFAULT
    assert not loop.is_running()
    fut = loop.create_future()
    assert not fut.done()


def test_close_releases_the_loops_descriptors(loop_factory):
    before = open_fds()
    loops = [loop_factory() for _ in range(20)]
    assert len(open_fds()) > len(before)
    for lp in loops:
        lp.close()
    assert open_fds() == before


def test_unclosed_loop_warns_when_collected(loop_factory):
    import gc

    lp = loop_factory()
    with pytest.warns(ResourceWarning, match="unclosed event loop"):
        del lp
        gc.collect()


def test_run_until_complete_on_a_closed_loop_does_not_start_the_coroutine(loop):
    loop.close()
    started = []

    async def main():
        started.append(1)

    coro = main()
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        loop.run_until_complete(coro)
    coro.close()
    assert started == []


def test_asyncio_run_closes_its_loop(loop_factory):
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_coro())
        lp = runner.get_loop()
    assert lp.is_closed()
