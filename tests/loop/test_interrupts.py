"""Ctrl-C and stop(): a signal that arrives while the loop sleeps runs its
Python handler promptly (KeyboardInterrupt surfaces, asyncio.Runner cancels
the main task), and run_until_complete reports a loop stopped early."""

import asyncio
import os
import signal
import threading
import time

import pytest

import aioloop


def _sigint_after(delay):
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_sigint_while_the_loop_sleeps_raises_keyboard_interrupt(loop):
    watchdog = loop.call_later(30, loop.stop)
    timer = _sigint_after(0.1)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            loop.run_forever()
    finally:
        timer.join()
        watchdog.cancel()
    assert time.monotonic() - started < 10
    assert not loop.is_running()


@pytest.mark.parametrize("factory", [asyncio.SelectorEventLoop, aioloop.new_event_loop],
                         ids=["asyncio", "aioloop"])
def test_runner_turns_sigint_into_cancelling_the_main_task(factory):
    cancelled = []

    async def main():
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    timer = _sigint_after(0.1)
    started = time.monotonic()
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            with pytest.raises(KeyboardInterrupt):
                runner.run(main())
    finally:
        timer.join()
    assert cancelled == [True]
    assert time.monotonic() - started < 10


def test_run_until_complete_reports_a_loop_stopped_before_the_future_completed(loop):
    fut = loop.create_future()
    loop.call_soon(loop.stop)
    with pytest.raises(RuntimeError, match="Event loop stopped before Future completed."):
        loop.run_until_complete(fut)
    fut.cancel()
