"""Exception handling: a failing callback goes to the exception handler and
the loop keeps running; the handler API behaves as asyncio's."""

import asyncio
import logging

import pytest

from helpers import LOOP_FACTORIES
from helpers import run_briefly


class Boom(Exception):
    pass


class BaseBoom(BaseException):
    pass


def boom(*args):
    raise Boom("boom")


def test_failing_callback_goes_to_the_handler_and_the_loop_keeps_running(loop):
    contexts = []
    trace = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append((lp, ctx)))
    loop.call_soon(trace.append, 1)
    h = loop.call_soon(boom)
    loop.call_soon(trace.append, 2)
    run_briefly(loop)
    assert trace == [1, 2]
    assert len(contexts) == 1
    lp, ctx = contexts[0]
    assert lp is loop
    # Debug mode adds where the callback was scheduled.
    extra = {"source_traceback"} if loop.get_debug() else set()
    assert set(ctx) == {"message", "exception", "handle"} | extra
    assert isinstance(ctx["exception"], Boom)
    assert ctx["handle"] is h
    assert ctx["message"].startswith("Exception in callback boom()")


def test_failing_timer_and_reader_callbacks_go_to_the_handler(loop):
    import socket

    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    th = loop.call_later(0, boom)
    a, b = socket.socketpair()
    try:
        b.send(b"x")
        loop.add_reader(a, boom, "r")
        run_briefly(loop, 3)
        loop.remove_reader(a)
    finally:
        a.close()
        b.close()
    # I/O callbacks join the ready queue before due timers, and the reader is
    # level-triggered: reader, timer, reader, reader.
    assert [c["handle"] is th for c in contexts] == [False, True, False, False]
    assert all(isinstance(c["exception"], Boom) for c in contexts)


def test_exception_handler_message_matches_asyncio():
    # The same failing callbacks on both loops give the same context message,
    # in normal and debug mode (3.13+ shows arguments only in debug mode).
    def messages(factory, debug):
        loop = factory()
        try:
            loop.set_debug(debug)
            out = []
            loop.set_exception_handler(lambda lp, ctx: out.append(ctx["message"]))
            loop.call_soon(boom, 1, "two")
            loop.call_later(-1, boom, [3])
            loop.call_soon(int, "not a number")
            run_briefly(loop)
            return out
        finally:
            loop.close()

    for debug in (False, True):
        expected = messages(LOOP_FACTORIES["asyncio"], debug)
        assert len(expected) == 3
        assert messages(LOOP_FACTORIES["aioloop"], debug) == expected


def test_base_exception_goes_to_the_handler_but_keyboard_interrupt_propagates(loop):
    contexts = []
    trace = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    def base():
        raise BaseBoom()

    def interrupt():
        raise KeyboardInterrupt

    loop.call_soon(base)
    loop.call_soon(trace.append, "a")
    loop.call_soon(interrupt)
    loop.call_soon(trace.append, "c")
    with pytest.raises(KeyboardInterrupt):
        loop.run_forever()
    assert not loop.is_running()
    assert [type(c["exception"]) for c in contexts] == [BaseBoom]
    assert trace == ["a"]
    # What the interrupted pass had not run yet runs on the next run.
    run_briefly(loop)
    assert trace == ["a", "c"]


def test_system_exit_propagates_out_of_run_until_complete(loop):
    def exit_now():
        raise SystemExit(3)

    async def main():
        loop.call_soon(exit_now)
        await asyncio.sleep(10)

    task = loop.create_task(main())
    with pytest.raises(SystemExit):
        loop.run_until_complete(task)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)


def test_get_and_set_exception_handler(loop):
    assert loop.get_exception_handler() is None

    def handler(lp, ctx):
        pass

    loop.set_exception_handler(handler)
    assert loop.get_exception_handler() is handler
    loop.set_exception_handler(None)
    assert loop.get_exception_handler() is None
    with pytest.raises(TypeError, match="A callable object or None is expected"):
        loop.set_exception_handler("not callable")


def test_call_exception_handler_passes_the_context_through(loop):
    seen = []
    loop.set_exception_handler(lambda lp, ctx: seen.append(ctx))
    ctx = {"message": "custom", "extra": 1}
    loop.call_exception_handler(ctx)
    assert seen == [ctx]


def test_default_exception_handler_logs_to_the_asyncio_logger(loop, caplog):
    caplog.set_level(logging.ERROR, logger="asyncio")
    loop.call_soon(boom)
    run_briefly(loop)
    records = [r for r in caplog.records if r.name == "asyncio"]
    assert len(records) == 1
    assert records[0].getMessage().startswith("Exception in callback boom()")
    assert records[0].exc_info[0] is Boom


def test_default_exception_handler_can_be_called_directly(loop, caplog):
    caplog.set_level(logging.ERROR, logger="asyncio")
    loop.default_exception_handler({"message": "direct call", "exception": Boom("x")})
    assert [r.getMessage() for r in caplog.records] == ["direct call"]


def test_handler_that_raises_is_logged_and_the_loop_keeps_running(loop, caplog):
    caplog.set_level(logging.ERROR, logger="asyncio")
    trace = []

    def bad_handler(lp, ctx):
        raise ValueError("handler failed")

    loop.set_exception_handler(bad_handler)
    loop.call_soon(boom)
    loop.call_soon(trace.append, "after")
    run_briefly(loop)
    assert trace == ["after"]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert messages[0].startswith("Unhandled error in exception handler\ncontext: ")
    assert caplog.records[0].exc_info[0] is ValueError


def test_unretrieved_task_exception_reaches_the_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))

    async def fail():
        raise Boom()

    loop.run_until_complete(asyncio.sleep(0))
    task = loop.create_task(fail())
    run_briefly(loop, 2)
    assert task.done()
    del task
    import gc

    gc.collect()
    assert len(contexts) == 1
    assert contexts[0]["message"] == "Task exception was never retrieved"
    assert isinstance(contexts[0]["exception"], Boom)


def _normalise(text):
    import re

    text = re.sub(r"0x[0-9a-f]+", "0x?", text)
    return re.sub(r"when=[0-9.e+-]+", "when=?", text)


def test_default_handler_log_output_matches_asyncio_in_debug_mode(caplog):
    # The full logged text: message, handle repr, "created at" traceback.
    def logged(factory):
        loop = factory()
        try:
            loop.set_debug(True)
            caplog.clear()
            with caplog.at_level(logging.ERROR, logger="asyncio"):
                loop.call_soon(boom, "arg")
                loop.call_later(-1, boom)
                run_briefly(loop)
            return [(_normalise(r.getMessage()), r.exc_info[0]) for r in caplog.records]
        finally:
            loop.close()

    marker = "source_traceback: Object created at (most recent call last):\n"
    # One call site for both, so that the callers' frames are the same text.
    expected, got = [logged(LOOP_FACTORIES[name]) for name in ("asyncio", "aioloop")]
    assert len(expected) == len(got) == 2
    for (text, exc), (ref_text, ref_exc) in zip(got, expected):
        assert exc is ref_exc
        head, frames = text.split(marker)
        ref_head, ref_frames = ref_text.split(marker)
        assert head == ref_head
        # asyncio keeps fewer frames (its limit counts its own call_soon /
        # call_at frames, which it then drops); the caller's end is the same.
        assert frames.endswith(ref_frames)
        assert ref_frames.count("File ") >= 5


def test_handle_repr_matches_asyncio():
    def reprs(factory, debug):
        loop = factory()
        try:
            loop.set_debug(debug)
            h1 = loop.call_soon(boom, 1, "x")
            h2 = loop.call_at(100.5, boom)
            h3 = loop.call_later(10, print)
            out = [repr(h1), repr(h2)]
            h1.cancel()
            h3.cancel()
            out += [repr(h1), repr(h3).replace(repr(h3.when()), "?")]
            return [_normalise(r) for r in out]
        finally:
            loop.close()

    for debug in (False, True):
        assert reprs(LOOP_FACTORIES["aioloop"], debug) == reprs(LOOP_FACTORIES["asyncio"], debug)


_INTERRUPT_THEN_COLLECT = r"""
import contextvars, gc, sys, aioloop
loop = aioloop.new_event_loop()

def interrupt():
    raise KeyboardInterrupt

def exit_now():
    raise SystemExit(2)

for fail in (interrupt, exit_now):
    loop.call_soon(fail)
    loop.call_later(0, int)
    loop.call_soon(int, context=contextvars.copy_context())
    try:
        loop.run_forever()
    except (KeyboardInterrupt, SystemExit) as exc:
        print(type(exc).__name__)
    gc.collect()
loop.stop()
loop.run_forever()
loop.close()
gc.collect()
print("survived")
"""


def test_keyboard_interrupt_in_a_callback_leaves_a_sound_interpreter():
    # In a fresh interpreter: a crash here must fail this test, not the run.
    from helpers import run_python

    assert run_python(_INTERRUPT_THEN_COLLECT).split() == ["KeyboardInterrupt", "SystemExit", "survived"]
