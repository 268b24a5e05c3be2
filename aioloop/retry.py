"""Retry: periodic retry with backoff, for retransmission (libaio's Retry).

Callback style::

    retry = aioloop.Retry(interval=0.5, limit=5)
    sock.send(query)
    key = retry.start(sock.send, query, on_expire=give_up)
    ...                          # the answer came: stop resending
    retry.timeout(key)

``start`` calls ``fn(*args)`` after ``interval`` seconds, then again after
each next delay (the previous one times ``factor``, at most
``max_interval``, each drawn within +/- ``jitter`` of its value), until
``timeout(key)`` removes the entry or ``limit`` calls have been made: one
delay after the last call the entry expires and ``on_expire(*args)`` is
called. ``retry(key)`` keeps an entry trying: its calls are counted afresh
and its next call comes one ``interval`` from now.

asyncio style::

    answer = await retry.run(sock.send, query, until=fut)

calls ``send(*args)`` at once, then on each timer, until ``fut`` is done,
and returns its result (or raises its exception); after ``limit`` sends and
one more delay without an answer it raises TimeoutError.

Loops. A Retry is not bound to a loop: each entry lives on the loop running
in the thread that called ``start`` (``run`` on the loop awaiting it). Its
calls and its expiry run there, in the contextvars context of the start
call, on timers of that loop's heap (``loop.call_later``: no thread per
entry, and a replaced ``loop.time`` drives them). ``timeout`` and ``retry``
may be called from any thread (the answer often arrives on another dispatch
thread); from another thread they reach the entry's loop through its
``call_soon_threadsafe``. A call or an on_expire that raises goes to the
loop's exception handler; the entry keeps its schedule.

Thread contract: ``Retry._lock`` (a threading.Lock) guards the settings
(read by every timer of every loop, written by the property setters) and
every entry's mutable fields (``_sends``, ``_delay``, ``_gen``, ``_handle``,
``_live``), which the entry's loop and any thread calling timeout/retry
touch; it is held for a few statements that never call user code. The rest
of an entry is immutable.
"""

import asyncio as _asyncio
import contextvars as _contextvars
import inspect as _inspect
import math as _math
import random as _random
import threading as _threading
from asyncio import events as _events

from .scheduler import Spawned as _Spawned

__all__ = ("Retry",)


def _check_real(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not _math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _check_interval(value):
    value = _check_real("interval", value)
    if value <= 0:
        raise ValueError(f"interval must be > 0, got {value}")
    return value


def _check_factor(value):
    value = _check_real("factor", value)
    if value < 1:
        raise ValueError(f"factor must be >= 1, got {value}")
    return value


def _check_max_interval(value):
    if value is None:
        return None
    value = _check_real("max_interval", value)
    if value <= 0:
        raise ValueError(f"max_interval must be > 0, got {value}")
    return value


def _check_jitter(value):
    value = _check_real("jitter", value)
    if not 0 <= value < 1:
        raise ValueError(f"jitter must be >= 0 and < 1, got {value}")
    return value


def _check_limit(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"limit must be an int or None, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"limit must be >= 0, got {value}")
    return value


def _check_plain_callable(name, fn):
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
    if _inspect.iscoroutinefunction(fn):
        raise TypeError(f"{name} must be a plain callable, not a coroutine "
                        "function: what it returns would never be awaited")


def _running_loop(what):
    loop = _events._get_running_loop()
    if loop is None:
        raise RuntimeError(f"Retry.{what}() needs a running event loop in this "
                           "thread (its timers live on that loop)")
    return loop


class _RetryEntry:
    """What start() returns: the key of one entry, for timeout() and retry()."""

    __slots__ = ("_retry", "_loop", "_fn", "_args", "_on_expire", "_context",
                 "_sends", "_delay", "_gen", "_handle", "_live")

    def __repr__(self):
        state = "live" if self._live else "done"
        return f"<aioloop.Retry entry {self._fn!r} {state} sends={self._sends}>"


class Retry:
    """Periodic retry with exponential backoff (see the module documentation).

    ``interval`` (seconds, > 0) is the first delay; each next one is the
    previous times ``factor`` (>= 1), capped at ``max_interval`` (None: no
    cap), and drawn uniformly within +/- ``jitter`` (0 <= jitter < 1) of
    that value. ``limit`` is the number of calls (sends) before the entry
    expires; None retries until stopped. Each is a read-write property;
    a change applies from the next delay on."""

    def __init__(self, interval=1.0, *, factor=2.0, max_interval=None,
                 jitter=0.1, limit=None):
        interval = _check_interval(interval)
        factor = _check_factor(factor)
        max_interval = _check_max_interval(max_interval)
        jitter = _check_jitter(jitter)
        limit = _check_limit(limit)
        if max_interval is not None and max_interval < interval:
            raise ValueError(f"max_interval ({max_interval}) must be >= "
                             f"interval ({interval})")
        self._lock = _threading.Lock()
        self._interval = interval
        self._factor = factor
        self._max_interval = max_interval
        self._jitter = jitter
        self._limit = limit
        self._random = _random.Random()

    def __repr__(self):
        return (f"<aioloop.Retry interval={self._interval} factor={self._factor} "
                f"max_interval={self._max_interval} jitter={self._jitter} "
                f"limit={self._limit}>")

    # -- settings --

    @property
    def interval(self):
        return self._interval

    @interval.setter
    def interval(self, value):
        value = _check_interval(value)
        with self._lock:
            if self._max_interval is not None and value > self._max_interval:
                raise ValueError(f"interval ({value}) must be <= max_interval "
                                 f"({self._max_interval})")
            self._interval = value

    @property
    def factor(self):
        return self._factor

    @factor.setter
    def factor(self, value):
        value = _check_factor(value)
        with self._lock:
            self._factor = value

    @property
    def max_interval(self):
        return self._max_interval

    @max_interval.setter
    def max_interval(self, value):
        value = _check_max_interval(value)
        with self._lock:
            if value is not None and value < self._interval:
                raise ValueError(f"max_interval ({value}) must be >= interval "
                                 f"({self._interval})")
            self._max_interval = value

    @property
    def jitter(self):
        return self._jitter

    @jitter.setter
    def jitter(self, value):
        value = _check_jitter(value)
        with self._lock:
            self._jitter = value

    @property
    def limit(self):
        return self._limit

    @limit.setter
    def limit(self, value):
        value = _check_limit(value)
        with self._lock:
            self._limit = value

    # -- delays (lock held) --

    def _next_delay(self, delay):
        delay *= self._factor
        if self._max_interval is not None and delay > self._max_interval:
            delay = self._max_interval
        return delay

    def _jittered(self, delay):
        if self._jitter:
            delay *= 1 + self._jitter * self._random.uniform(-1.0, 1.0)
        return delay

    # -- callback style --

    def start(self, fn, /, *args, on_expire=None):
        """Call fn(*args) after ``interval``, then with backoff, on the loop
        running in this thread; returns the entry's key. After ``limit``
        calls and one more delay, on_expire(*args) is called (if given)."""
        _check_plain_callable("fn", fn)
        if on_expire is not None and not callable(on_expire):
            raise TypeError(f"on_expire must be callable or None, got "
                            f"{type(on_expire).__name__}")
        loop = _running_loop("start")
        e = _RetryEntry()
        e._retry = self
        e._loop = loop
        e._fn = fn
        e._args = args
        e._on_expire = on_expire
        e._context = _contextvars.copy_context()
        e._sends = 0
        e._gen = 0
        e._live = True
        with self._lock:
            e._delay = self._interval
            e._handle = loop.call_later(self._jittered(e._delay), self._fire,
                                        e, 0, context=e._context)
        return e

    def _fire(self, e, gen):
        # On the entry's loop, in its context.
        with self._lock:
            if not e._live or e._gen != gen:
                return              # removed, or re-armed by retry()
            expired = self._limit is not None and e._sends >= self._limit
            if expired:
                e._live = False
                e._handle = None
                fn = e._on_expire
            else:
                e._sends += 1
                # The next timer before the call: a call that stops or
                # re-arms its own entry finds the current handle.
                e._delay = self._next_delay(e._delay)
                e._handle = e._loop.call_later(self._jittered(e._delay),
                                               self._fire, e, gen,
                                               context=e._context)
                fn = e._fn
        if fn is None:
            return
        try:
            fn(*e._args)
        except Exception as exc:
            what = "on_expire" if expired else "call"
            e._loop.call_exception_handler({
                "message": f"exception in a Retry {what} {fn!r}",
                "exception": exc, "handler": fn})

    def _key(self, key, what):
        if not isinstance(key, _RetryEntry):
            raise TypeError(f"Retry.{what}() needs a key returned by start(), "
                            f"got {type(key).__name__}")
        if key._retry is not self:
            raise ValueError(f"Retry.{what}(): this key was started by another Retry")
        return key

    def _on_own_loop(self, e):
        return _events._get_running_loop() is e._loop

    def timeout(self, key):
        """Remove the entry (no further call, no expiry); from any thread.
        Returns False if it was gone already (removed or expired)."""
        e = self._key(key, "timeout")
        with self._lock:
            if not e._live:
                return False
            e._live = False
            handle, e._handle = e._handle, None
        if handle is not None:
            if self._on_own_loop(e):
                handle.cancel()
            else:
                try:
                    e._loop.call_soon_threadsafe(handle.cancel)
                except RuntimeError:
                    pass    # its loop is closed: the timer went with it
        return True

    def retry(self, key):
        """Keep the entry trying: its calls are counted afresh against
        ``limit`` and the next one comes ``interval`` from now; from any
        thread. Returns False if it was gone already."""
        e = self._key(key, "retry")
        own = self._on_own_loop(e)
        with self._lock:
            if not e._live:
                return False
            e._gen += 1
            e._sends = 0
            e._delay = self._interval
            gen = e._gen
            if own:
                if e._handle is not None:
                    e._handle.cancel()
                e._handle = e._loop.call_later(self._jittered(e._delay),
                                               self._fire, e, gen,
                                               context=e._context)
                return True
        try:
            e._loop.call_soon_threadsafe(self._rearm, e, gen, context=e._context)
        except RuntimeError:
            return False    # its loop is closed: nothing will run again
        return True

    def _rearm(self, e, gen):
        # On the entry's loop: retry() from another thread.
        with self._lock:
            if not e._live or e._gen != gen:
                return
            if e._handle is not None:
                e._handle.cancel()
            e._handle = e._loop.call_later(self._jittered(e._delay),
                                           self._fire, e, gen,
                                           context=e._context)

    # -- asyncio style --

    def run(self, send, /, *args, until):
        """Call send(*args) now and on each timer until ``until`` (an asyncio
        future of the running loop, or an aioloop.Spawned) is done; return
        its result or raise its exception. After ``limit`` sends and one
        more delay without it, raise TimeoutError (``until`` is left as it
        is). Cancelling run() stops the resending and leaves ``until`` alone.
        The arguments are checked at the call; returns a coroutine."""
        _check_plain_callable("send", send)
        _check_until(until)
        return self._run(send, args, until)

    async def _run(self, send, args, until):
        loop = _running_loop("run")
        if _asyncio.isfuture(until) and until.get_loop() is not loop:
            raise ValueError("until is a future of another loop (pass an "
                             "aioloop.Spawned to wait across loops)")
        if until.done():
            return until.result()
        current = None

        def wake(_=None):
            if current is not None and not current.done():
                current.set_result(None)

        until.add_done_callback(wake)
        try:
            sends = 0
            with self._lock:
                delay = self._interval
            while True:
                with self._lock:
                    limit = self._limit
                    wait = self._jittered(delay)
                    delay = self._next_delay(delay)
                if limit is None or sends < limit:
                    send(*args)
                    sends += 1
                    if until.done():
                        return until.result()
                current = loop.create_future()
                timer = loop.call_later(wait, wake)
                try:
                    await current
                finally:
                    timer.cancel()
                    current = None
                if until.done():
                    return until.result()
                if limit is not None and sends >= limit:
                    raise TimeoutError(f"no answer after {sends} sends")
        finally:
            until.remove_done_callback(wake)


def _check_until(until):
    if not (_asyncio.isfuture(until) or isinstance(until, _Spawned)):
        raise TypeError(f"until must be an asyncio future or an aioloop.Spawned, "
                        f"got {type(until).__name__}")
