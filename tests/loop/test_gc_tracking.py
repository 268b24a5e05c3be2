"""Handles are untracked by the garbage collector while the loop queues them
(loop/handles.pyx): these tests pin that cycles through handles are still
collected once the loop lets go of them, on both loops."""
import asyncio
import contextvars
import gc
import weakref

import pytest

import aioloop

LOOPS = [pytest.param(asyncio.new_event_loop, id="asyncio"),
         pytest.param(aioloop.new_event_loop, id="aioloop")]


class Owner:
    """An object holding a handle whose callback is its own bound method:
    the common cycle (self -> handle -> bound method -> self)."""

    def __init__(self, loop, how):
        self.fired = False
        if how == "soon":
            self.handle = loop.call_soon(self.fire)
        elif how == "later":
            self.handle = loop.call_later(0.001, self.fire)
        else:
            self.handle = loop.call_later(3600, self.fire)
            self.handle.cancel()

    def fire(self):
        self.fired = True


@pytest.mark.parametrize("factory", LOOPS)
@pytest.mark.parametrize("how", ["soon", "later", "cancelled"])
def test_cycle_through_handle_is_collected_after_the_loop_drops_it(factory, how):
    loop = factory()
    try:
        owner = Owner(loop, how)
        ref = weakref.ref(owner)
        loop.run_until_complete(asyncio.sleep(0.01))
        assert owner.fired == (how != "cancelled")
        del owner
        gc.collect()
        assert ref() is None
    finally:
        loop.close()


@pytest.mark.parametrize("factory", LOOPS)
def test_cycle_through_pending_timer_is_collected_after_close(factory):
    loop = factory()
    owner = Owner(loop, "later")
    ref = weakref.ref(owner)
    del owner
    loop.close()        # drops the pending timer
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("factory", LOOPS)
def test_pending_callback_keeps_its_target_alive(factory):
    loop = factory()
    try:
        owner = Owner(loop, "later")
        ref = weakref.ref(owner)
        del owner
        gc.collect()            # queued: must survive
        assert ref() is not None
        loop.run_until_complete(asyncio.sleep(0.01))
        assert ref().fired
    finally:
        loop.close()


_tag = contextvars.ContextVar("gc_tracking_tag")


@pytest.mark.parametrize("factory", LOOPS)
@pytest.mark.parametrize("how", ["ran", "cancelled", "closed"])
def test_handle_and_its_context_are_tracked_once_out_of_the_loop(factory, how):
    loop = factory()
    try:
        # From a context with a variable set: the handle gets a copy of its
        # own (from an empty one it would get none until asked).
        ctx = contextvars.Context()
        ctx.run(_tag.set, how)
        handle = ctx.run(loop.call_soon, lambda: None)
        if how == "cancelled":
            handle.cancel()
        if how == "closed":
            loop.close()
        else:
            loop.run_until_complete(asyncio.sleep(0))
        assert gc.is_tracked(handle)
        assert gc.is_tracked(handle._context)   # get_context() is 3.12+
    finally:
        loop.close()
