"""Callbacks run in their contextvars context: a copy of the scheduler's
context by default, or the one given with context=."""

import asyncio
import contextvars
import socket
import threading

import pytest

from helpers import PY312
from helpers import run_briefly, run_until

var = contextvars.ContextVar("var", default="unset")


def _schedulers(loop):
    return {
        "call_soon": lambda cb, **kw: loop.call_soon(cb, **kw),
        "call_later": lambda cb, **kw: loop.call_later(0, cb, **kw),
        "call_at": lambda cb, **kw: loop.call_at(loop.time() - 1, cb, **kw),
        "call_soon_threadsafe": lambda cb, **kw: loop.call_soon_threadsafe(cb, **kw),
    }


@pytest.mark.parametrize("method", ["call_soon", "call_later", "call_at", "call_soon_threadsafe"])
def test_callback_runs_in_a_copy_of_the_context_it_was_scheduled_from(loop, method):
    seen = []
    schedule = _schedulers(loop)[method]

    def cb():
        seen.append(var.get())
        var.set("changed by callback")

    token = var.set("at schedule time")
    try:
        h = schedule(cb)
        var.set("after schedule time")
        run_briefly(loop)
        assert seen == ["at schedule time"]
        # The callback's change stayed in its own copy.
        assert var.get() == "after schedule time"
        assert h._context.get(var) == "changed by callback"
    finally:
        var.reset(token)


@pytest.mark.parametrize("method", ["call_soon", "call_later", "call_at", "call_soon_threadsafe"])
def test_context_argument_is_the_context_the_callback_runs_in(loop, method):
    ctx = contextvars.Context()
    ctx.run(var.set, "in ctx")
    schedule = _schedulers(loop)[method]
    seen = []

    def cb(tag):
        seen.append((tag, var.get()))
        var.set(f"set by {tag}")

    h1 = schedule(lambda: cb("first"), context=ctx)
    h2 = schedule(lambda: cb("second"), context=ctx)
    assert h1._context is ctx
    run_briefly(loop)
    # One shared context: the second callback sees the first one's change.
    assert seen == [("first", "in ctx"), ("second", "set by first")]
    assert ctx[var] == "set by second"
    assert var.get() == "unset"


def test_callback_scheduled_from_another_thread_gets_that_threads_context(loop):
    seen = []

    def thread():
        var.set("thread value")
        loop.call_soon_threadsafe(lambda: seen.append(var.get()))

    th = threading.Thread(target=thread)
    th.start()
    th.join()
    run_briefly(loop)
    assert seen == ["thread value"]


def test_reader_runs_in_the_context_of_add_reader(loop):
    a, b = socket.socketpair()
    seen = []
    try:
        token = var.set("reader ctx")
        loop.add_reader(a, lambda: (seen.append(var.get()), loop.remove_reader(a)))
        var.reset(token)
        b.send(b"x")
        run_until(loop, lambda: seen)
    finally:
        a.close()
        b.close()
    assert seen == ["reader ctx"]


def test_task_runs_in_its_context(loop):
    ctx = contextvars.copy_context()
    ctx.run(var.set, "task ctx")

    async def main():
        return var.get()

    assert loop.run_until_complete(loop.create_task(main(), context=ctx)) == "task ctx"
    assert loop.run_until_complete(loop.create_task(main())) == "unset"


def test_context_changes_inside_a_task_persist_across_awaits(loop):
    async def main():
        var.set("mine")
        await asyncio.sleep(0)
        await asyncio.sleep(0.001)
        return var.get()

    assert loop.run_until_complete(main()) == "mine"
    assert var.get() == "unset"


def test_callback_with_a_context_already_entered_is_reported_not_fatal(loop, caplog):
    # Entering a context that is already entered fails; asyncio reports it
    # (3.12+ even fails to enter it for the exception handler, and logs that).
    trace = []
    ctx = contextvars.copy_context()

    def run_loop():
        loop.call_soon(trace.append, "bad", context=ctx)
        loop.call_soon(trace.append, "good")
        run_briefly(loop)

    ctx.run(run_loop)
    assert trace == ["good"]
    errors = [r for r in caplog.records if r.name == "asyncio"]
    assert len(errors) == 1
    assert "is already entered" in str(errors[0].exc_info[1])


@pytest.mark.skipif(not PY312, reason="Handle.get_context() is new in Python 3.12")
def test_handle_get_context_returns_the_callbacks_context(loop):
    ctx = contextvars.Context()
    assert loop.call_soon(int, context=ctx).get_context() is ctx
    assert loop.call_later(0, int, context=ctx).get_context() is ctx
    run_briefly(loop)
