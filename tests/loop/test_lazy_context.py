"""Callbacks scheduled from an empty context: each still runs in a context of
its own, as asyncio's copy gives it. aioloop runs them in a reused empty
Context instead of copying (loop/handles.pyx, "Lazy contexts"); these tests
pin the semantics that must not change, on stock asyncio and on aioloop."""

import asyncio
import contextvars
import os
import socket
import sys
import threading
import time

import pytest

from helpers import run_briefly, run_until

var = contextvars.ContextVar("lazy_var", default="unset")
STRESS = int(os.environ.get("AIOLOOP_STRESS", "1"))


def empty_context_call(fn, *args):
    """fn(*args) in a new empty context, as a fresh thread or task would be."""
    return contextvars.Context().run(fn, *args)


METHODS = ["call_soon", "call_later", "call_soon_threadsafe", "threadsafe_from_thread"]


def schedule(loop, method, cb):
    if method == "call_soon":
        return empty_context_call(loop.call_soon, cb)
    if method == "call_later":
        return empty_context_call(loop.call_later, 0, cb)
    if method == "call_soon_threadsafe":
        return empty_context_call(loop.call_soon_threadsafe, cb)
    out = []
    t = threading.Thread(target=lambda: out.append(loop.call_soon_threadsafe(cb)))
    t.start()
    t.join()
    return out[0]


@pytest.mark.parametrize("method", METHODS)
def test_a_variable_set_by_one_callback_is_not_seen_by_the_next(loop, method):
    seen = []

    def setter(i):
        def cb():
            seen.append(var.get())
            var.set(f"set by {i}")
        return cb

    handles = [schedule(loop, method, setter(i)) for i in range(4)]
    run_until(loop, lambda: len(seen) == 4)
    assert seen == ["unset"] * 4
    # Each handle kept what its own callback set.
    assert [h._context.get(var) for h in handles] == [f"set by {i}" for i in range(4)]
    assert var.get() == "unset"


@pytest.mark.parametrize("method", METHODS)
def test_get_context_before_the_run_is_the_context_it_runs_in(loop, method):
    if sys.version_info < (3, 12):
        pytest.skip("Handle.get_context() is new in Python 3.12")
    ctxs = []

    def cb():
        var.set("inside")
        ctxs.append(contextvars.copy_context())

    h = schedule(loop, method, cb)
    ctx = h.get_context()
    assert isinstance(ctx, contextvars.Context) and len(ctx) == 0
    assert h.get_context() is ctx
    run_until(loop, lambda: ctxs)
    assert ctx[var] == "inside" and h.get_context() is ctx


@pytest.mark.parametrize("method", METHODS)
def test_the_handle_seen_from_its_own_callback_holds_its_running_context(loop, method):
    out = {}

    def cb():
        var.set("inside")
        ctx = out["h"]._context
        out["during"] = (ctx, ctx.get(var))

    h = out["h"] = schedule(loop, method, cb)
    run_until(loop, lambda: "during" in out)
    ctx, value = out["during"]
    assert value == "inside"
    assert h._context is ctx and ctx[var] == "inside"
    # A later callback does not run in that context.
    later = []
    schedule(loop, method, lambda: later.append(var.get()))
    run_until(loop, lambda: later)
    assert later == ["unset"]


def test_a_kept_token_cannot_reset_in_another_callbacks_context(loop):
    tokens, results = [], []

    def first():
        tok1 = var.set("a")
        tok2 = var.set("b")
        var.reset(tok1)             # back to empty; unused tok2 holds the context
        tokens.append(tok2)

    def second():
        try:
            var.reset(tokens[0])
        except ValueError as exc:   # "created in a different Context"
            results.append(type(exc))
        else:
            results.append(None)

    empty_context_call(loop.call_soon, first)
    empty_context_call(loop.call_soon, second)
    run_until(loop, lambda: results)
    assert results == [ValueError]


def test_a_held_context_is_not_shared_with_later_callbacks(loop):
    # A callback that is handed its own handle's context and keeps it: later
    # callbacks must not run in that object (it could be entered twice).
    held, later = [], []
    box = {}

    def first():
        held.append(box["h"]._context)

    box["h"] = empty_context_call(loop.call_soon, first)
    run_until(loop, lambda: held)

    def second():
        later.append(box["h2"]._context)

    box["h2"] = empty_context_call(loop.call_soon, second)
    run_until(loop, lambda: later)
    assert later[0] is not held[0]
    held[0].run(var.set, "mine")          # usable: not entered elsewhere
    assert var not in later[0] and held[0][var] == "mine"


def test_a_reader_callback_keeps_its_context_across_runs(loop):
    # asyncio's add_reader handle has one context for all its runs.
    r, w = socket.socketpair()
    r.setblocking(False)
    seen = []

    def on_read():
        r.recv(1)
        seen.append(var.get())
        var.set(f"run {len(seen)}")

    try:
        empty_context_call(loop.add_reader, r.fileno(), on_read)
        for i in range(3):
            w.send(b"x")
            run_until(loop, lambda: len(seen) == i + 1)
        assert seen == ["unset", "run 1", "run 2"]
    finally:
        loop.remove_reader(r.fileno())
        r.close()
        w.close()


def test_get_context_from_another_thread_while_callbacks_run(loop):
    # Another thread asks every handle for its context while the loop runs
    # them. Whatever it gets must be the context that handle's callback ran
    # in (odd callbacks set a variable in it), and never one two callbacks
    # share (entering a shared context twice would raise in the callback).
    n = 3000 * STRESS
    done = threading.Event()
    handles = [None] * n
    ran = []
    errors = []

    def cb(i):
        if i % 2:
            var.set(i)
        ran.append(i)
        if len(ran) == n:
            done.set()

    stop = threading.Event()

    def producer():
        try:
            for i in range(n):
                handles[i] = loop.call_soon_threadsafe(cb, i)
        finally:
            stop.set()              # the reader waits for no handle after this

    got = {}

    def reader():
        i = 0
        while i < n:
            h = handles[i]
            if h is None:
                if stop.is_set() and handles[i] is None:
                    return          # the producer failed: reported below
                time.sleep(0)       # let the producer run (GIL builds)
                continue
            try:
                got[i] = h._context
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            i += 7

    old = loop.get_exception_handler()
    loop.set_exception_handler(lambda lp, c: errors.append(c))
    try:
        threads = [threading.Thread(target=producer, daemon=True),
                   threading.Thread(target=reader, daemon=True)]
        for t in threads:
            t.start()
        run_until(loop, done.is_set, timeout=60)
        for t in threads:
            t.join()
    finally:
        loop.set_exception_handler(old)
    assert errors == []
    assert sorted(ran) == list(range(n))
    assert len(got) == len(range(0, n, 7))
    for i, ctx in got.items():
        assert ctx is handles[i]._context
        assert ctx.get(var, "unset") == (i if i % 2 else "unset"), i
    # No two handles share a context object.
    assert len({id(h._context) for h in handles}) == n


def test_tasks_and_futures_callbacks_are_unchanged(loop):
    # Task steps and done callbacks pass context= explicitly; a task started
    # from an empty context still sees only its own variables.
    async def child(i):
        await asyncio.sleep(0)
        assert var.get() == "unset"
        var.set(i)
        await asyncio.sleep(0)
        return var.get()

    async def main():
        tasks = [empty_context_call(loop.create_task, child(i)) for i in range(20)]
        return await asyncio.gather(*tasks)

    assert loop.run_until_complete(main()) == list(range(20))
    run_briefly(loop)
