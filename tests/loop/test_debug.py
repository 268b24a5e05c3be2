"""Debug mode: set_debug/get_debug, slow-callback warnings, PYTHONASYNCIODEBUG
and -X dev, source tracebacks, and the thread check on non-thread-safe calls."""

import asyncio
import logging
import sys
import threading
import time

import pytest

from helpers import DEBUG_DEFAULT, run_briefly, run_python


def test_debug_follows_the_environment_and_set_debug_switches_it(loop):
    # Off, unless PYTHONASYNCIODEBUG or -X dev (CI runs the suite both ways).
    assert loop.get_debug() is DEBUG_DEFAULT
    loop.set_debug(True)
    assert loop.get_debug() is True
    loop.set_debug(False)
    assert loop.get_debug() is False


def test_slow_callback_duration_defaults_to_a_tenth_of_a_second(loop):
    assert loop.slow_callback_duration == 0.1
    loop.slow_callback_duration = 0.25
    assert loop.slow_callback_duration == 0.25


def _slow():
    time.sleep(0.06)


def test_slow_callback_is_logged_in_debug_mode(loop, caplog):
    caplog.set_level(logging.WARNING, logger="asyncio")
    loop.set_debug(True)
    loop.slow_callback_duration = 0.05
    loop.call_soon(_slow)
    loop.call_soon(int)  # fast: not logged
    run_briefly(loop)
    slow = [r for r in caplog.records if "took" in r.getMessage()]
    assert len(slow) == 1
    assert slow[0].name == "asyncio"
    assert slow[0].levelno == logging.WARNING
    msg = slow[0].getMessage()
    assert msg.startswith("Executing <Handle _slow() at ")
    assert float(msg.rsplit("took ", 1)[1].split()[0]) >= 0.05


def test_slow_callback_is_not_logged_without_debug(loop, caplog):
    caplog.set_level(logging.WARNING, logger="asyncio")
    loop.set_debug(False)
    loop.slow_callback_duration = 0.05
    loop.call_soon(_slow)
    run_briefly(loop)
    assert [r for r in caplog.records if "took" in r.getMessage()] == []


def test_callback_that_turns_debug_on_is_not_reported_as_slow(loop, caplog):
    # Debug mode applies from the next callback on: the one that switched it
    # was not timed, so no "took N seconds" warning may appear for it.
    caplog.set_level(logging.WARNING, logger="asyncio")
    loop.call_soon(loop.set_debug, True)
    loop.call_soon(int)
    run_briefly(loop)
    assert [r.getMessage() for r in caplog.records if "took" in r.getMessage()] == []


def test_callback_that_turns_debug_off_leaves_no_current_handle(loop):
    loop.set_debug(True)
    seen = []
    loop.call_soon(lambda: seen.append(loop._current_handle is not None))
    loop.call_soon(loop.set_debug, False)
    run_briefly(loop)
    assert seen == [True]
    assert loop._current_handle is None


def test_handles_record_their_source_traceback_in_debug_mode(loop):
    loop.set_debug(True)
    here = sys._getframe().f_lineno
    h1 = loop.call_soon(int)
    h2 = loop.call_later(1, int)
    h3 = loop.call_at(loop.time() + 1, int)
    for offset, h in zip((1, 2, 3), (h1, h2, h3)):
        frame = h._source_traceback[-1]
        assert frame.filename == __file__
        assert frame.lineno == here + offset
        assert f"created at {__file__}:{here + offset}" in repr(h)
    h2.cancel()
    h3.cancel()
    run_briefly(loop)


def test_no_source_traceback_without_debug(loop):
    loop.set_debug(False)
    h = loop.call_soon(int)
    assert h._source_traceback is None
    run_briefly(loop)


def test_coroutine_origin_tracking_is_on_while_a_debug_loop_runs(loop):
    loop.set_debug(True)
    depths = []
    loop.call_soon(lambda: depths.append(sys.get_coroutine_origin_tracking_depth()))
    run_briefly(loop)
    assert depths == [asyncio.coroutines._DEBUG_STACK_DEPTH if hasattr(asyncio.coroutines, "_DEBUG_STACK_DEPTH") else asyncio.constants.DEBUG_STACK_DEPTH]
    assert sys.get_coroutine_origin_tracking_depth() == 0


def test_coroutine_passed_to_call_soon_is_rejected_in_debug_mode(loop):
    loop.set_debug(True)

    async def coro():
        pass

    for schedule in (loop.call_soon, lambda cb: loop.call_later(0, cb), lambda cb: loop.call_at(0, cb)):
        with pytest.raises(TypeError, match="coroutines cannot be used with"):
            schedule(coro)
        c = coro()
        with pytest.raises(TypeError):
            schedule(c)
        c.close()


def test_non_thread_safe_call_from_another_thread_raises_in_debug_mode(loop):
    loop.set_debug(True)
    errors = []

    def other_thread():
        for call in (lambda: loop.call_soon(int), lambda: loop.call_later(1, int),
                     lambda: loop.call_at(1, int)):
            try:
                call()
            except RuntimeError as exc:
                errors.append(str(exc))
            else:
                errors.append(None)
        loop.call_soon_threadsafe(loop.stop)  # the thread-safe one works

    loop.call_soon(lambda: threading.Thread(target=other_thread).start())
    watchdog = loop.call_later(30, loop.stop)
    loop.run_forever()
    watchdog.cancel()
    assert errors == ["Non-thread-safe operation invoked on an event loop other than the current one"] * 3


def test_non_thread_safe_call_from_another_thread_is_allowed_while_not_running(loop):
    loop.set_debug(True)
    done = []
    th = threading.Thread(target=lambda: done.append(loop.call_soon(done.append, "ran")))
    th.start()
    th.join()
    run_briefly(loop)
    assert done[1:] == ["ran"]


_DEBUG_PROBE = """
import asyncio, aioloop
print(asyncio.SelectorEventLoop().get_debug(), aioloop.new_event_loop().get_debug())
"""


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        ({}, (), "False False"),
        ({"PYTHONASYNCIODEBUG": "1"}, (), "True True"),
        ({"PYTHONDEVMODE": "1"}, (), "True True"),
        ({}, ("-X", "dev"), "True True"),
    ],
    ids=["default", "PYTHONASYNCIODEBUG", "PYTHONDEVMODE", "X-dev"],
)
def test_new_loop_honours_the_asyncio_debug_environment(env, args, expected):
    out = run_python(_DEBUG_PROBE + "import warnings; warnings.simplefilter('ignore')", env=env, args=args)
    assert out.split() == expected.split()


def test_aioloop_run_debug_argument_sets_debug_mode():
    import aioloop

    async def main():
        return asyncio.get_running_loop().get_debug()

    assert aioloop.run(main(), debug=True) is True
    assert aioloop.run(main(), debug=False) is False


def test_close_is_logged_in_debug_mode(loop_factory, caplog):
    caplog.set_level(logging.DEBUG, logger="asyncio")
    loop = loop_factory()
    loop.set_debug(True)
    loop.close()
    assert [r.getMessage().split()[0] for r in caplog.records if r.getMessage().startswith("Close")] == ["Close"]
