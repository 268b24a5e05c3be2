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
