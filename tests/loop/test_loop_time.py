"""loop.time() is read live, as asyncio's (DESIGN.md: the per-cycle cached
`now` is libaio's aio.now(), not loop.time())."""
import asyncio
import time

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
def test_subclass_time_drives_timers(base):
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
