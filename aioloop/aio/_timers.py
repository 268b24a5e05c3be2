"""Timers, the time of day and counters: add_oneshot, add_interval,
remove_timer (libaio 4.5.4), now, get_time_of_day, stats (4.5.8).

Timers are the loops' own (loop.call_at, on CLOCK_MONOTONIC); aio keeps a
process-wide registry of them (AioState.timers) so that remove_timer works
from any thread.

Wall-clock deadlines and clock jumps
    add_oneshot takes a time of day (time.time()'s scale, libaio's TimeVal).
    It becomes a deadline of the loop's monotonic clock when the timer is
    put on its loop: ``when - time.time() + loop.time()``. When that deadline
    comes, the time of day is read again: if the wall clock was set back
    since (settimeofday, a step by NTP), the timer sleeps again for what is
    left, so it never fires before ``when`` by the wall clock (within 1 ms).
    A wall clock set forward is noticed within a second: each loop that
    holds one-shot timers compares the two clocks once a second (one timer
    per loop, not per one-shot) and, when their difference moved by more
    than 1 ms, moves the deadlines of its one-shots (a deadline now past
    fires at once). Intervals are durations and use the monotonic clock
    only.

Interval timers
    Deadlines are ``start + k * interval`` (start: the time of add_interval),
    so they do not drift however long the callbacks take. The next tick is
    armed before the callback runs (libaio re-arms at once); a tick that
    comes when one or more later grid points have already passed (a slow
    callback, a busy loop) skips them (counted in stats()
    ``interval_missed``) instead of running the callback back to back. The
    callback runs on the loop that holds the timer, inline, so it never
    overlaps itself.

Thread contract
    Every field of a Timer but ``handle`` and ``offset`` is guarded by
    AioState.lock; ``handle`` (the loop's TimerHandle) and ``offset`` are
    written, and the handle cancelled, only by the thread of the timer's
    ``loop``. A ClockWatch's ``timers`` is guarded by AioState.lock, its
    ``handle`` and ``offset`` belong to its loop's thread; AioState.watches
    (loop -> ClockWatch) is guarded by AioState.lock. ``cancelled`` is the truth: a
    Timer removed under the lock never runs its callback again, whatever
    its handle does.
"""

import math as _math
import time as _time

from ._state import (check_callable, check_hint, check_time, post, state)

__all__ = ("add_oneshot", "add_interval", "remove_timer", "now",
           "get_time_of_day", "stats")

_ONESHOT, _INTERVAL = 0, 1
# A one-shot whose wall-clock deadline is less than this ahead fires: the
# conversion between the two clocks is exact to a few microseconds only.
_WALL_SLACK = 0.001
# How often a loop holding one-shot timers looks for a wall-clock step.
_WATCH_PERIOD = 1.0


class Timer:
    __slots__ = ("kind", "fn", "when", "interval", "start", "k", "hint",
                 "loop", "handle", "cancelled", "offset")

    def __init__(self, kind, fn, when, interval, start, hint, loop):
        self.kind = kind
        self.fn = fn
        self.when = when            # one-shot: time of day
        self.interval = interval    # interval: seconds
        self.start = start          # interval: loop clock of add_interval
        self.k = 1                  # interval: the tick armed (start + k*interval)
        self.hint = hint
        self.loop = loop
        self.handle = None
        self.cancelled = False
        self.offset = None          # one-shot: time of day - loop time, used

    def __repr__(self):
        if self.kind == _ONESHOT:
            return f"<aio one-shot timer {self.fn!r} at {self.when}>"
        return f"<aio interval timer {self.fn!r} every {self.interval}s>"


class ClockWatch:
    """One per loop holding one-shot timers: looks for wall-clock steps."""

    __slots__ = ("timers", "handle", "offset")

    def __init__(self):
        self.timers = set()     # the loop's armed one-shots
        self.handle = None
        self.offset = 0.0


def _forget(st, t):
    # Under st.lock: t no longer counts as armed.
    t.cancelled = True
    if t in st.timers:
        st.timers.discard(t)
        if t.kind == _ONESHOT:
            st.noneshot -= 1
            w = st.watches.get(t.loop)
            if w is not None:
                w.timers.discard(t)
        else:
            st.ninterval -= 1


def _put_oneshot(st, t, offset):
    # On t.loop's thread, under st.lock: (re)arm t for its time of day,
    # `offset` being time of day - loop time now.
    loop = t.loop
    if t.handle is not None:
        t.handle.cancel()
    t.offset = offset
    t.handle = loop.call_at(t.when - offset, _fire_oneshot, st, t)
    w = st.watches.get(loop)
    if w is None:
        w = st.watches[loop] = ClockWatch()
    w.timers.add(t)
    if w.handle is None:
        w.offset = offset
        w.handle = loop.call_later(_WATCH_PERIOD, _watch_tick, st, w, loop)


def _watch_tick(st, w, loop):
    with st.lock:
        if not w.timers:
            w.handle = None
            return
        offset = _time.time() - loop.time()
        if abs(offset - w.offset) > _WALL_SLACK:
            # The wall clock was stepped (or slewed that far) since: move
            # every deadline set with another offset.
            w.offset = offset
            for t in list(w.timers):
                if abs(offset - t.offset) > _WALL_SLACK:
                    _put_oneshot(st, t, offset)
        w.handle = loop.call_later(_WATCH_PERIOD, _watch_tick, st, w, loop)


def _add(st, t):
    with st.lock:
        st.timers.add(t)
        if t.kind == _ONESHOT:
            st.noneshot += 1
        else:
            st.ninterval += 1
    try:
        post(t.loop, _install, st, t)
    except RuntimeError:
        with st.lock:
            _forget(st, t)
        raise


def _install(st, t):
    # On t.loop's thread.
    loop = t.loop
    with st.lock:
        if t.cancelled:
            return
        if t.kind == _ONESHOT:
            _put_oneshot(st, t, _time.time() - loop.time())
        else:
            t.handle = loop.call_at(t.start + t.interval, _fire_interval, st, t)


def _fire_oneshot(st, t):
    loop = t.loop
    with st.lock:
        if t.cancelled:
            return
        wall = _time.time()
        offset = wall - loop.time()
        if t.when - wall > _WALL_SLACK:
            # The wall clock was set back since the timer was put on the
            # loop: not yet due by the time of day.
            t.handle = None     # this one has fired
            _put_oneshot(st, t, offset)
            return
        t.handle = None
        _forget(st, t)
        st.oneshot_fired += 1
    try:
        st.sched.sched(t.fn, hint=t.hint)
    except RuntimeError:
        if not st.sched._core.is_closed():
            raise
        # aexit's shutdown refuses new submissions, but this loop still runs
        # the work it accepted, and this timer was accepted: run it here.
        _run_reporting(loop, t)


def _fire_interval(st, t):
    loop = t.loop
    with st.lock:
        if t.cancelled:
            return
        now = loop.time()
        k = t.k + 1
        if t.start + k * t.interval <= now:
            due = _math.floor((now - t.start) / t.interval) + 1
            st.interval_missed += due - k
            k = due
        t.k = k
        t.handle = loop.call_at(t.start + k * t.interval, _fire_interval, st, t)
        st.interval_ticks += 1
    _run_reporting(loop, t)


def _run_reporting(loop, t):
    try:
        t.fn()
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        loop.call_exception_handler({
            "message": f"Exception in callback of {t!r}",
            "exception": exc,
        })


def _cancel_handle(t):
    # On t.loop's thread.
    if t.handle is not None:
        t.handle.cancel()
        t.handle = None


def add_oneshot(fn, when, *, hint=None):
    """Run fn() once, as a new task, when the time of day reaches `when`
    (seconds since the epoch, as time.time(); a time already past fires at
    once). The task runs on any dispatch thread (unhinted: the timer's
    thread queues it and idle threads may steal it), or on thread ``hint %
    threads``. The timer is kept on this dispatch thread's loop (from a plain
    thread: the loop of `hint`, else loop 0). Any thread, between ainit()
    and aexit(). See the module documentation for clock jumps."""
    check_callable("fn", fn)
    when = check_time("when", when)
    check_hint(hint)
    st = state()
    _add(st, Timer(_ONESHOT, fn, when, None, None, hint, st.home_loop(hint)))


def add_interval(fn, interval, *, hint=None):
    """Run fn() every `interval` seconds (> 0), first at now + interval,
    on this dispatch thread (from a plain thread: loop 0), or on thread
    ``hint % threads``, until remove_timer(fn). Deadlines do not drift; a
    callback never overlaps itself (see the module documentation)."""
    check_callable("fn", fn)
    interval = check_time("interval", interval)
    if interval <= 0:
        raise ValueError(f"interval must be > 0, got {interval}")
    check_hint(hint)
    st = state()
    loop = st.home_loop(hint)
    start = loop.time() if loop is st.current_loop() else _time.monotonic()
    _add(st, Timer(_INTERVAL, fn, None, interval, start, hint, loop))


def remove_timer(fn_or_when, /):
    """remove_timer(fn): remove every timer (one-shot or interval) whose
    callback is fn (==); remove_timer(when): every one-shot timer whose
    deadline is `when` (the time of day given to add_oneshot). Returns how
    many were removed; a removed timer's callback is not started again.
    Any thread."""
    if callable(fn_or_when):
        fn = fn_or_when

        def match(t):
            return t.fn == fn
    elif isinstance(fn_or_when, (int, float)) and not isinstance(fn_or_when, bool):
        when = check_time("when", fn_or_when)

        def match(t):
            return t.kind == _ONESHOT and t.when == when
    else:
        raise TypeError("fn_or_when must be a callable or a time of day "
                        f"(int or float), got {type(fn_or_when).__name__}")
    st = state()
    with st.lock:
        hits = [t for t in st.timers if match(t)]
        for t in hits:
            _forget(st, t)
    for t in hits:
        try:
            post(t.loop, _cancel_handle, t)
        except RuntimeError:
            pass        # closed loop: its timers went with it
    return len(hits)


def now():
    """libaio's `now`: the time of day (time.time()'s scale) read by this
    dispatch thread's loop at the start of its current pass, after it woke
    up; one clock read per pass, however many callers. From a plain thread,
    the latest of the loops' values. Before a loop has run a pass with the
    cache on (the first aio call turns it on), time.time()."""
    st = state()
    loop = st.current_loop()
    if loop is not None:
        value = loop._cached_wall_clock()
    else:
        values = [v for v in (lp._cached_wall_clock() for lp in st.loops)
                  if v is not None]
        value = max(values) if values else None
    if value is None:
        with st.lock:
            st.ntod += 1
        value = _time.time()
    return value


def get_time_of_day():
    """The time of day now (time.time()); counted in stats()['ntod']."""
    st = state()
    with st.lock:
        st.ntod += 1
    return _time.time()


def stats():
    """libaio's counters: ``ntod`` (time-of-day reads: the loops' once per
    pass for now(), get_time_of_day() and now()'s fallbacks), ``ncheckio``
    (passes of the loops' run cycles, each of which checks for I/O),
    ``noneshot`` and ``ninterval`` (timers armed now), ``oneshot_fired``,
    ``interval_ticks``, ``interval_missed``, ``fds`` (fds with a one-shot
    armed or pending); ``scheduler``: Scheduler.stats(); ``loops``: each
    dispatch loop's stats(), by thread index."""
    st = state()
    loops = [lp.stats() for lp in st.loops]
    with st.lock:
        out = {
            "ntod": st.ntod + sum(ls["wall_clock_reads"] for ls in loops),
            "ncheckio": sum(ls["passes"] for ls in loops),
            "noneshot": st.noneshot,
            "ninterval": st.ninterval,
            "oneshot_fired": st.oneshot_fired,
            "interval_ticks": st.interval_ticks,
            "interval_missed": st.interval_missed,
            "fds": len(st.fds),
        }
    out["scheduler"] = st.sched.stats()
    out["loops"] = loops
    return out
