"""loop.time() is read live, as asyncio's (DESIGN.md: the per-cycle cached
`now` is libaio's aio.now(), not loop.time())."""
import asyncio
import threading
import time
from unittest import mock

import pytest

import aioloop

LOOPS = [pytest.param(asyncio.new_event_loop, id="asyncio"),
         pytest.param(aioloop.new_event_loop, id="aioloop")]


@pytest.mark.parametrize("factory", LOOPS)
def test_time_advances_inside_a_long_callback(factory):
    loop = factory()
    seen = []

    def long_callback():
        t0 = loop.time()
        time.sleep(0.05)
        seen.append(loop.time() - t0)

    try:
        loop.call_soon(long_callback)
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
    assert seen and seen[0] >= 0.05


@pytest.mark.parametrize("factory", LOOPS)
def test_time_is_the_monotonic_clock(factory):
    loop = factory()
    try:
        before = time.monotonic()
        t = loop.time()
        after = time.monotonic()
    finally:
        loop.close()
    assert before <= t <= after


# --- a replaced clock drives the run cycle ----------------------------------
# asyncio's run cycle and call_later() ask self.time(), so tests (aiohttp's)
# drive timers with mock.patch.object(loop, "time"); a subclass may override
# time(), and since asyncio's time() calls time.monotonic() at call time,
# patching that moves the clock too. Each test bounds the wait with a
# watchdog: a loop that polled by the real clock would sleep for an hour.

LOOP_CLASSES = {"asyncio": asyncio.SelectorEventLoop, "aioloop": aioloop.Loop}


def _run_until_stopped(loop, limit=5.0):
    """run_forever() until something calls stop(), or `limit` seconds of
    real time pass; returns the real seconds it took."""
    watchdog = threading.Timer(limit, loop.call_soon_threadsafe, (loop.stop,))
    watchdog.start()
    t0 = time.monotonic()
    try:
        loop.run_forever()
    finally:
        watchdog.cancel()
        watchdog.join()
    return time.monotonic() - t0


def _timer_due_by_clock(loop, set_clock, base):
    """Schedule a timer an hour past `base`, move the clock (set_clock) past
    it, and run: the timer must fire at once."""
    fired = []
    loop.call_at(base + 3600, lambda: (fired.append(loop.time()), loop.stop()))
    set_clock(base + 3601)
    took = _run_until_stopped(loop)
    assert fired == [base + 3601]
    assert took < 4


def test_instance_patched_time_drives_timers(loop):
    base = loop.time()
    with mock.patch.object(loop, "time", return_value=base):
        _timer_due_by_clock(loop, lambda t: setattr(loop.time, "return_value", t), base)


def test_instance_patched_time_is_the_base_of_call_later(loop):
    with mock.patch.object(loop, "time", return_value=1000.0):
        handle = loop.call_later(10, int)
    assert handle.when() == 1010.0
    handle.cancel()


def test_subclass_time_drives_timers(loop_name):
    class Skewed(LOOP_CLASSES[loop_name]):
        now = None

        def time(self):
            return self.now

    loop = Skewed()
    try:
        loop.now = 1000.0
        handle = loop.call_later(10, int)
        assert handle.when() == 1010.0
        handle.cancel()
        _timer_due_by_clock(loop, lambda t: setattr(loop, "now", t), 1000.0)
    finally:
        loop.close()


def test_class_patched_time_drives_timers(loop_name):
    # freezegun's real_asyncio replaces the loop class's time().
    cls = LOOP_CLASSES[loop_name]
    loop = cls()
    try:
        with mock.patch.object(cls, "time", autospec=True, return_value=1000.0) as patched:
            _timer_due_by_clock(loop, lambda t: setattr(patched, "return_value", t), 1000.0)
    finally:
        loop.close()


def test_patched_time_monotonic_drives_timers(loop):
    with mock.patch("time.monotonic", return_value=1000.0) as patched:
        assert loop.time() == 1000.0
        handle = loop.call_later(10, int)
        assert handle.when() == 1010.0
        handle.cancel()
        _timer_due_by_clock(loop, lambda t: setattr(patched, "return_value", t), 1000.0)
    now = loop.time()
    assert abs(now - time.monotonic()) < 1


def test_clock_patched_inside_a_callback_applies_from_the_next_pass(loop):
    base = loop.time()
    fired = []

    def patch_clock():
        loop.time = lambda: base + 3601

    loop.call_at(base + 3600, lambda: (fired.append(True), loop.stop()))
    loop.call_soon(patch_clock)
    try:
        assert _run_until_stopped(loop) < 4
    finally:
        del loop.time
    assert fired == [True]


def test_restored_clock_is_ours_again(loop):
    with mock.patch.object(loop, "time", return_value=0.0):
        assert loop.time() == 0.0
    assert "time" not in vars(loop)
    assert abs(loop.time() - time.monotonic()) < 1


# --- a replaced time() --------------------------------------------------------
# asyncio's loop reads its clock through self.time() (poll timeout, due timers,
# call_later), so a test can freeze or move a loop's time by patching it;
# aiohttp's test_keepalive_expires_on_time does.


def test_patched_time_decides_which_timers_are_due(loop):
    from unittest import mock

    async def main():
        now = loop.time()
        fired = []
        with mock.patch.object(loop, "time") as clock:
            clock.return_value = now
            loop.call_at(now + 3600, fired.append, "call_at")
            handle = loop.call_later(1800, fired.append, "call_later")
            assert handle.when() == now + 1800
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            assert fired == []
            clock.return_value = now + 3600      # an hour passes at once
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        assert "time" not in vars(loop)         # the patch is undone
        return fired

    # No asyncio timeout around main(): it would read the patched clock too
    # (pytest-timeout guards against a hang).
    assert loop.run_until_complete(main()) == ["call_later", "call_at"]


def test_patched_time_sets_the_poll_timeout(loop):
    # With time() an hour ahead, a timer due in an hour of real time is due
    # now: the loop must not sleep until then.
    from unittest import mock

    async def main():
        fired = loop.create_future()
        loop.call_at(loop.time() + 3600, fired.set_result, True)
        real = loop.time()
        with mock.patch.object(loop, "time", return_value=real + 3600):
            return await fired

    assert loop.run_until_complete(main()) is True


@pytest.mark.parametrize("base", ["asyncio", "aioloop"])
def test_subclass_time_calling_super_drives_timers(base):
    base_class = asyncio.SelectorEventLoop if base == "asyncio" else aioloop.Loop

    class Shifted(base_class):
        shift = 0.0

        def time(self):
            return super().time() + self.shift

    loop = Shifted()
    try:
        async def main():
            fired = loop.create_future()
            loop.call_later(3600, fired.set_result, True)
            loop.shift = 3600.0
            return await fired

        assert loop.run_until_complete(main()) is True
    finally:
        loop.close()
