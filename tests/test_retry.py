"""aioloop.Retry: periodic retry with backoff, in both styles, on any loop
(each test runs on stock asyncio and on aioloop). The callback-style tests
drive the loop's clock by hand (mock.patch.object(loop, "time")), so call
times are exact."""

import asyncio
import contextvars
import threading
from unittest import mock

import pytest

import aioloop
from helpers import run_briefly


class Clock:
    """A hand-driven clock for `loop`: advance() moves it and runs one pass
    of the loop, in which every timer due by then fires."""

    def __init__(self, loop):
        self.loop = loop
        self.now = 0.0
        self.patch = mock.patch.object(loop, "time", side_effect=lambda: self.now)

    def __enter__(self):
        self.patch.start()
        return self

    def __exit__(self, *exc):
        self.patch.stop()

    def advance_to(self, t, step=0.5):
        while self.now < t:
            self.now = min(t, self.now + step)
            run_briefly(self.loop)


def recorder(loop, log, what):
    return lambda *args: log.append((what, loop.time(), args))


def start_on(loop, retry, *args, **kwargs):
    """retry.start(...) from a callback of `loop` (it needs a running loop)."""
    keys = []
    loop.call_soon(lambda: keys.append(retry.start(*args, **kwargs)))
    run_briefly(loop)
    return keys[0]


# --- callback style -----------------------------------------------------------

def test_calls_back_off_then_expire(loop):
    log = []
    retry = aioloop.Retry(1.0, factor=2.0, jitter=0, limit=3)
    with Clock(loop) as clock:
        start_on(loop, retry, recorder(loop, log, "send"), "q", 7,
                 on_expire=recorder(loop, log, "expire"))
        clock.advance_to(30)
    assert log == [("send", 1.0, ("q", 7)), ("send", 3.0, ("q", 7)),
                   ("send", 7.0, ("q", 7)), ("expire", 15.0, ("q", 7))]


def test_max_interval_caps_the_backoff(loop):
    log = []
    retry = aioloop.Retry(1, factor=3, max_interval=5, jitter=0, limit=4)
    with Clock(loop) as clock:
        start_on(loop, retry, recorder(loop, log, "send"),
                 on_expire=recorder(loop, log, "expire"))
        clock.advance_to(30)
    assert [(w, t) for w, t, _ in log] == [("send", 1.0), ("send", 4.0), ("send", 9.0),
                                          ("send", 14.0), ("expire", 19.0)]


def test_limit_zero_expires_after_one_interval_without_a_call(loop):
    log = []
    retry = aioloop.Retry(2, jitter=0, limit=0)
    with Clock(loop) as clock:
        start_on(loop, retry, recorder(loop, log, "send"),
                 on_expire=recorder(loop, log, "expire"))
        clock.advance_to(10)
    assert log == [("expire", 2.0, ())]


def test_no_limit_keeps_calling(loop):
    log = []
    retry = aioloop.Retry(1, factor=1, jitter=0)
    with Clock(loop) as clock:
        key = start_on(loop, retry, recorder(loop, log, "send"))
        clock.advance_to(20)
        assert retry.timeout(key) is True
    assert [t for _, t, _ in log] == [float(i) for i in range(1, 21)]


def test_timeout_removes_the_entry(loop):
    log = []
    retry = aioloop.Retry(1, jitter=0, limit=5)
    with Clock(loop) as clock:
        key = start_on(loop, retry, recorder(loop, log, "send"),
                       on_expire=recorder(loop, log, "expire"))
        clock.advance_to(3.5)
        assert retry.timeout(key) is True
        assert retry.timeout(key) is False
        assert retry.retry(key) is False
        clock.advance_to(100)
    assert log == [("send", 1.0, ()), ("send", 3.0, ())]


def test_retry_resets_the_backoff_and_the_count(loop):
    log = []
    retry = aioloop.Retry(1, factor=2, jitter=0, limit=2)
    with Clock(loop) as clock:
        key = start_on(loop, retry, recorder(loop, log, "send"),
                       on_expire=recorder(loop, log, "expire"))
        clock.advance_to(3.5)           # sends at 1 and 3
        loop.call_soon(retry.retry, key)    # runs in the pass at 4
        clock.advance_to(30)
        assert retry.retry(key) is False    # expired
    assert [(w, t) for w, t, _ in log] == [("send", 1.0), ("send", 3.0), ("send", 5.0),
                                          ("send", 7.0), ("expire", 11.0)]


def test_a_call_may_stop_or_rearm_its_own_entry(loop):
    log = []
    retry = aioloop.Retry(1, factor=2, jitter=0, limit=10)
    keys = []

    def send():
        log.append(loop.time())
        if len(log) == 2:
            retry.retry(keys[0])
        if len(log) == 4:
            retry.timeout(keys[0])

    with Clock(loop) as clock:
        keys.append(start_on(loop, retry, send))
        clock.advance_to(50)
    # 1, 3 (re-armed: next in 1), 4, 6 (stopped)
    assert log == [1.0, 3.0, 4.0, 6.0]


def test_timeout_and_retry_from_another_thread(loop):
    log = []
    retry = aioloop.Retry(1, factor=2, jitter=0, limit=3)

    def from_thread(fn, key):
        out = []
        t = threading.Thread(target=lambda: out.append(fn(key)))
        t.start()
        t.join()
        return out[0]

    with Clock(loop) as clock:
        a = start_on(loop, retry, recorder(loop, log, "a"),
                     on_expire=recorder(loop, log, "a-expire"))
        b = start_on(loop, retry, recorder(loop, log, "b"))
        clock.advance_to(2)                 # a and b at 1
        handle = a._handle
        assert from_thread(retry.timeout, a) is True
        assert from_thread(retry.retry, b) is True      # posted to the loop
        clock.advance_to(2.5)
        assert handle.cancelled()           # the cancel reached the loop
        clock.advance_to(5)
    # b re-armed at 2.5: next at 3.5, then 5.5 is past the end.
    assert [(w, t) for w, t, _ in log] == [("a", 1.0), ("b", 1.0), ("b", 3.5)]


def test_a_raising_call_goes_to_the_exception_handler_and_retrying_goes_on(loop):
    seen = []
    calls = []
    loop.set_exception_handler(lambda lp, ctx: seen.append(
        (ctx["message"], type(ctx["exception"]))))

    def send():
        calls.append(loop.time())
        raise OSError("network down")

    def expire():
        raise KeyError("x")

    retry = aioloop.Retry(1, factor=1, jitter=0, limit=2)
    with Clock(loop) as clock:
        start_on(loop, retry, send, on_expire=expire)
        clock.advance_to(5)
    assert calls == [1.0, 2.0]
    assert seen == [(f"exception in a Retry call {send!r}", OSError),
                    (f"exception in a Retry call {send!r}", OSError),
                    (f"exception in a Retry on_expire {expire!r}", KeyError)]


def test_calls_run_in_the_context_of_start(loop):
    var = contextvars.ContextVar("var", default="unset")
    seen = []
    retry = aioloop.Retry(1, jitter=0, limit=2)

    def start():
        var.set("at start")
        retry.start(lambda: seen.append(var.get()),
                    on_expire=lambda: seen.append("expire " + var.get()))

    with Clock(loop) as clock:
        loop.call_soon(start)
        clock.advance_to(10)
    assert seen == ["at start", "at start", "expire at start"]


def test_jitter_spreads_delays_within_its_bounds():
    retry = aioloop.Retry(1.0, jitter=0.25)
    delays = [retry._jittered(2.0) for _ in range(2000)]
    assert min(delays) >= 1.5 and max(delays) <= 2.5
    assert min(delays) < 1.6 and max(delays) > 2.4
    retry.jitter = 0
    assert {retry._jittered(2.0) for _ in range(100)} == {2.0}


def test_settings_changed_apply_from_the_next_delay(loop):
    log = []
    retry = aioloop.Retry(1, factor=2, jitter=0, limit=10)
    with Clock(loop) as clock:
        start_on(loop, retry, recorder(loop, log, "send"),
                 on_expire=recorder(loop, log, "expire"))
        clock.advance_to(1)                 # send at 1, next delay 2 armed
        retry.factor = 1
        retry.limit = 3
        clock.advance_to(20)
    assert [(w, t) for w, t, _ in log] == [("send", 1.0), ("send", 3.0), ("send", 5.0),
                                          ("expire", 7.0)]


def test_start_needs_a_running_loop():
    with pytest.raises(RuntimeError, match="running event loop"):
        aioloop.Retry().start(print)


# --- bad arguments ------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, exc, name", [
    ({"interval": 0}, ValueError, "interval"),
    ({"interval": -1}, ValueError, "interval"),
    ({"interval": "1"}, TypeError, "interval"),
    ({"interval": True}, TypeError, "interval"),
    ({"interval": float("inf")}, ValueError, "interval"),
    ({"factor": 0.5}, ValueError, "factor"),
    ({"factor": None}, TypeError, "factor"),
    ({"max_interval": 0}, ValueError, "max_interval"),
    ({"max_interval": "5"}, TypeError, "max_interval"),
    ({"interval": 2, "max_interval": 1}, ValueError, "max_interval"),
    ({"jitter": 1}, ValueError, "jitter"),
    ({"jitter": -0.1}, ValueError, "jitter"),
    ({"jitter": float("nan")}, ValueError, "jitter"),
    ({"limit": -1}, ValueError, "limit"),
    ({"limit": 1.0}, TypeError, "limit"),
    ({"limit": False}, TypeError, "limit"),
])
def test_bad_settings_are_refused_naming_the_argument(kwargs, exc, name):
    with pytest.raises(exc, match=rf"^{name} "):
        aioloop.Retry(**kwargs)
    if len(kwargs) == 1:
        retry = aioloop.Retry(1, max_interval=10)
        with pytest.raises(exc, match=rf"^{name} "):
            setattr(retry, name, kwargs[name])
        assert getattr(retry, name) == {"interval": 1.0, "factor": 2.0, "max_interval": 10.0,
                                        "jitter": 0.1, "limit": None}[name]


def test_setters_keep_interval_within_max_interval():
    retry = aioloop.Retry(1, max_interval=10)
    with pytest.raises(ValueError, match="^interval"):
        retry.interval = 11
    with pytest.raises(ValueError, match="^max_interval"):
        retry.max_interval = 0.5
    retry.max_interval = None
    retry.interval = 11
    assert (retry.interval, retry.max_interval) == (11.0, None)


def test_bad_arguments_to_start_timeout_retry_and_run(loop):
    retry = aioloop.Retry()
    other = aioloop.Retry()

    async def coro_fn():
        pass

    async def main():
        with pytest.raises(TypeError, match="^fn must be callable"):
            retry.start(42)
        with pytest.raises(TypeError, match="^fn must be a plain callable"):
            retry.start(coro_fn)
        with pytest.raises(TypeError, match="^on_expire must be callable"):
            retry.start(print, on_expire=1)
        key = other.start(print)
        try:
            with pytest.raises(ValueError, match="another Retry"):
                retry.timeout(key)
            with pytest.raises(TypeError, match="key returned by start"):
                retry.retry("key")
        finally:
            other.timeout(key)
        with pytest.raises(TypeError, match="^send must be callable"):
            retry.run(None, until=loop.create_future())
        with pytest.raises(TypeError, match="^until must be"):
            retry.run(print, until=None)
        foreign = asyncio.new_event_loop()
        try:
            with pytest.raises(ValueError, match="another loop"):
                await retry.run(print, until=foreign.create_future())
        finally:
            foreign.close()

    loop.run_until_complete(main())


# --- asyncio style --------------------------------------------------------------------

def test_run_resends_until_the_future_is_done(loop):
    async def main():
        fut = loop.create_future()
        sends = []

        def send(x):
            sends.append(x)
            if len(sends) == 3:
                loop.call_soon(fut.set_result, "answer")

        retry = aioloop.Retry(0.001, factor=1, jitter=0)
        return await retry.run(send, "ping", until=fut), sends

    assert loop.run_until_complete(main()) == ("answer", ["ping"] * 3)


def test_run_raises_timeout_error_after_the_limit(loop):
    async def main():
        fut = loop.create_future()
        sends = []
        retry = aioloop.Retry(0.001, factor=2, jitter=0, limit=3)
        t0 = loop.time()
        with pytest.raises(TimeoutError, match="after 3 sends"):
            await retry.run(sends.append, 1, until=fut)
        # Three sends, then a wait after each: 1 + 2 + 4 ms at least.
        return sends, fut.done(), loop.time() - t0 >= 0.007

    assert loop.run_until_complete(main()) == ([1, 1, 1], False, True)


def test_run_returns_at_once_for_a_done_future_and_raises_its_exception(loop):
    async def main():
        sends = []
        retry = aioloop.Retry(0.001)
        done = loop.create_future()
        done.set_result(5)
        assert await retry.run(sends.append, 1, until=done) == 5
        failed = loop.create_future()

        def send(_):
            sends.append(2)
            failed.set_exception(ConnectionResetError("peer"))

        with pytest.raises(ConnectionResetError):
            await retry.run(send, 2, until=failed)
        return sends

    assert loop.run_until_complete(main()) == [2]


def test_cancelling_run_stops_resending_and_leaves_the_future(loop):
    async def main():
        fut = loop.create_future()
        sends = []
        retry = aioloop.Retry(0.001, factor=1, jitter=0)
        task = asyncio.ensure_future(retry.run(sends.append, 1, until=fut))
        while len(sends) < 2:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        n = len(sends)
        await asyncio.sleep(0.01)
        return n == len(sends), fut.cancelled(), fut.done()

    assert loop.run_until_complete(main()) == (True, False, False)


def test_run_until_a_spawned_on_another_dispatch_thread():
    async def answer_later(gate):
        await gate.wait()
        return "from thread 1", aioloop.thread_index()

    async def main():
        gate = aioloop.Event()
        sp = aioloop.spawn(answer_later(gate), hint=1)
        sends = []

        def send():
            sends.append(aioloop.thread_index())
            if len(sends) == 2:
                gate.set()

        retry = aioloop.Retry(0.001, factor=1, jitter=0)
        return await retry.run(send, until=sp), sends[:2]

    result, sends = aioloop.run(main(), threads=2)
    assert result == ("from thread 1", 1)
    assert sends == [0, 0]
