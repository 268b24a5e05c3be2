"""Bad arguments fail at the call with TypeError/ValueError.

Where stock asyncio checks too (debug mode for callables, `None` delays and
deadlines) both loops must raise the same error. aioloop also checks where
asyncio lets a bad value through to fail later inside the loop (DESIGN.md:
"Bad arguments fail at the call"); those tests run on aioloop alone.
"""

import asyncio
import math

import pytest

import aioloop
from helpers import run_briefly

NOT_CALLABLE = [1, "str", None, object()]


@pytest.fixture
def aloop():
    lp = aioloop.new_event_loop()
    yield lp
    lp.close()


@pytest.mark.parametrize("bad", NOT_CALLABLE, ids=repr)
@pytest.mark.parametrize("method", ["call_soon", "call_later", "call_at", "call_soon_threadsafe"])
def test_non_callable_raises_type_error_naming_the_method_in_debug_mode(loop, loop_name, method, bad):
    loop.set_debug(True)
    call = {
        "call_soon": lambda: loop.call_soon(bad),
        "call_later": lambda: loop.call_later(1, bad),
        "call_at": lambda: loop.call_at(1, bad),
        "call_soon_threadsafe": lambda: loop.call_soon_threadsafe(bad),
    }[method]
    # asyncio's call_later delegates to call_at and names that one; aioloop
    # names the method the caller used.
    name = "call_at" if method == "call_later" and loop_name == "asyncio" else method
    with pytest.raises(TypeError, match=rf"a callable object was expected by {name}\(\)"):
        call()


@pytest.mark.parametrize("bad", NOT_CALLABLE, ids=repr)
@pytest.mark.parametrize(
    "method", ["call_soon", "call_later", "call_at", "call_soon_threadsafe", "add_reader", "add_writer"])
def test_aioloop_rejects_a_non_callable_at_the_call_without_debug(aloop, method, bad):
    call = {
        "call_soon": lambda: aloop.call_soon(bad),
        "call_later": lambda: aloop.call_later(1, bad),
        "call_at": lambda: aloop.call_at(1, bad),
        "call_soon_threadsafe": lambda: aloop.call_soon_threadsafe(bad),
        "add_reader": lambda: aloop.add_reader(0, bad),
        "add_writer": lambda: aloop.add_writer(1, bad),
    }[method]
    with pytest.raises(TypeError, match=rf"a callable object was expected by {method}\(\)"):
        call()
    assert aloop.stats()["ready"] == 0
    assert aloop.stats()["timers"] == 0
    assert aloop.remove_reader(0) is False


def test_call_later_with_none_delay_raises_type_error(loop):
    with pytest.raises(TypeError, match="delay must not be None"):
        loop.call_later(None, int)


def test_call_at_with_none_deadline_raises_type_error(loop):
    with pytest.raises(TypeError, match="when cannot be None"):
        loop.call_at(None, int)


@pytest.mark.parametrize("bad", ["1", b"1", [1], object()], ids=repr)
def test_call_later_with_a_non_number_delay_raises_type_error(loop, bad):
    with pytest.raises(TypeError):
        loop.call_later(bad, int)


@pytest.mark.parametrize("bad", ["1", b"1", [1], object()], ids=repr)
def test_aioloop_call_at_with_a_non_number_deadline_raises_type_error(aloop, bad):
    # asyncio accepts it and fails later, inside the loop.
    with pytest.raises(TypeError, match="when must be a number"):
        aloop.call_at(bad, int)
    assert aloop.stats()["timers"] == 0


def test_aioloop_call_later_with_nan_delay_raises_value_error(aloop):
    # asyncio accepts NaN and the timer's place in the heap is then undefined.
    with pytest.raises(ValueError, match="delay must not be NaN"):
        aloop.call_later(math.nan, int)
    with pytest.raises(ValueError, match="when must not be NaN"):
        aloop.call_at(math.nan, int)
    assert aloop.stats()["timers"] == 0


def test_unknown_keyword_argument_raises_type_error(loop):
    with pytest.raises(TypeError):
        loop.call_soon(int, bogus=1)
    with pytest.raises(TypeError):
        loop.call_later(1, int, bogus=1)
    with pytest.raises(TypeError):
        loop.call_soon_threadsafe(int, bogus=1)


def test_missing_callback_raises_type_error(loop):
    with pytest.raises(TypeError):
        loop.call_soon()
    with pytest.raises(TypeError):
        loop.call_later(1)
    with pytest.raises(TypeError):
        loop.call_at(1)


def test_create_task_of_a_non_coroutine_raises_type_error(loop):
    with pytest.raises(TypeError):
        loop.create_task(int)
    with pytest.raises(TypeError):
        loop.create_task(None)


def test_run_until_complete_of_a_non_awaitable_raises_type_error(loop):
    with pytest.raises(TypeError, match="An asyncio.Future, a coroutine or an awaitable is required"):
        loop.run_until_complete(42)


def test_set_task_factory_rejects_a_non_callable(loop):
    with pytest.raises(TypeError, match="task factory must be a callable or None"):
        loop.set_task_factory(1)
    assert loop.get_task_factory() is None


def test_run_until_complete_of_a_future_from_another_loop_raises_value_error(loop_factory):
    other = aioloop.new_event_loop()
    loop = loop_factory()
    try:
        fut = other.create_future()
        with pytest.raises(ValueError, match="The future belongs to a different loop"):
            loop.run_until_complete(fut)
    finally:
        loop.close()
        other.close()


def test_arguments_are_passed_through_unchanged(loop):
    got = []
    sentinel = object()
    loop.call_soon(lambda *a: got.append(a), 1, None, sentinel)
    loop.call_later(0, lambda *a: got.append(a), "x")
    run_briefly(loop)
    assert got == [(1, None, sentinel), ("x",)]


def test_running_a_loop_inside_a_running_loop_raises(loop_factory):
    outer = loop_factory()
    inner = aioloop.new_event_loop()
    errors = []

    def nested():
        coro = asyncio.sleep(0)
        # outer.run_forever() goes last: on Python 3.13.0 stock asyncio's
        # failed nested run_forever() clears the running loop on its way out
        # (a CPython bug), after which the other two would really run.
        for run in (lambda: inner.run_forever(), lambda: outer.run_until_complete(coro),
                    lambda: outer.run_forever()):
            try:
                run()
            except RuntimeError as exc:
                errors.append(str(exc))
        coro.close()
        outer.stop()

    try:
        outer.call_soon(nested)
        outer.run_forever()
    finally:
        outer.close()
        inner.close()
    assert errors == [
        "Cannot run the event loop while another loop is running",
        "This event loop is already running",
        "This event loop is already running",
    ]


def test_aioloop_failed_nested_run_forever_leaves_the_loop_running(aloop):
    # Stock asyncio 3.13.0 resets its state here; aioloop checks before it
    # touches anything.
    seen = []

    def nested():
        with pytest.raises(RuntimeError, match="This event loop is already running"):
            aloop.run_forever()
        seen.append((asyncio.get_running_loop() is aloop, aloop.is_running()))

    aloop.call_soon(nested)
    run_briefly(aloop)
    assert seen == [(True, True)]
