"""Timers: aio.add_oneshot, aio.add_interval, aio.remove_timer; and
aio.now, aio.get_time_of_day, aio.stats."""

import math
import threading
import time

import pytest

import aioloop
from aioloop import aio
from aioloop.aio import _timers

from .aiotest import run_aio


# --- add_oneshot ------------------------------------------------------------------

def test_oneshot_runs_once_not_before_its_time_of_day():
    got = []

    def start():
        when = time.time() + 0.03

        def fire():
            got.append(time.time() >= when - _timers._WALL_SLACK)
            aio.add_oneshot(aio.aexit, aio.get_time_of_day() + 0.03)

        aio.add_oneshot(fire, when)

    run_aio(start)
    assert got == [True]


def test_oneshot_in_the_past_fires_at_once_and_hint_pins_it():
    got = []

    def start():
        aio.add_oneshot(lambda: (got.append(aioloop.thread_index()), aio.aexit()),
                        0, hint=3)

    run_aio(start, threads=2)
    assert got == [1]


def test_oneshot_from_a_plain_thread_before_amain():
    got = []
    aio.ainit(2, 1)
    aio.add_oneshot(lambda: (got.append("ran"), aio.aexit()), time.time())
    aio.amain()
    assert got == ["ran"]


def test_oneshot_follows_the_wall_clock_set_back(monkeypatch):
    # The wall clock is set back after the timer was put on its loop: at
    # its monotonic deadline it is not yet due by the time of day, and waits.
    offset = [0.0]

    real = time

    class Clock:
        @staticmethod
        def time():
            return real.time() - offset[0]

        monotonic = staticmethod(real.monotonic)

    monkeypatch.setattr(_timers, "_time", Clock)
    got = []

    def start():
        when = Clock.time() + 0.02

        def fire():
            got.append(Clock.time() >= when - _timers._WALL_SLACK)
            aio.aexit()

        aio.add_oneshot(fire, when)
        offset[0] = 0.1     # "settimeofday(now - 0.1 s)"

    run_aio(start)
    assert got == [True]


def test_oneshot_follows_the_wall_clock_set_forward(monkeypatch):
    # An hour ahead by the time of day; then the wall clock jumps an hour
    # forward: the loop's clock watch moves the deadline, and it fires.
    offset = [0.0]
    real = time

    class Clock:
        @staticmethod
        def time():
            return real.time() + offset[0]

        monotonic = staticmethod(real.monotonic)

    monkeypatch.setattr(_timers, "_time", Clock)
    monkeypatch.setattr(_timers, "_WATCH_PERIOD", 0.01)
    got = []

    def start():
        when = Clock.time() + 3600

        def fire():
            got.append(Clock.time() >= when - _timers._WALL_SLACK)
            got.append(aio.stats()["noneshot"])
            aio.aexit()

        aio.add_oneshot(fire, when)
        aio.add_oneshot(print, when + 7200)     # stays armed
        offset[0] = 3600.0      # "settimeofday(now + 1 h)"

    run_aio(start)
    assert got == [True, 1]


def test_the_clock_watch_stops_with_the_last_oneshot():
    got = []

    def start():
        loop = aioloop.current_scheduler().loops[0]
        aio.add_oneshot(print, time.time() + 3600)
        watch = aioloop.current_scheduler()._aio_state.watches[loop]
        got.append(watch.handle is not None)
        aio.remove_timer(print)
        aio.sched(check, watch, hint=0)

    def check(watch):
        got.append(len(watch.timers))
        aio.aexit()

    run_aio(start)
    assert got == [True, 0]


# --- add_interval ------------------------------------------------------------------

def test_interval_runs_on_the_adding_thread_until_removed():
    ticks = []

    def tick():
        ticks.append(aioloop.thread_index())
        if len(ticks) == 5:
            assert aio.remove_timer(tick) == 1
            aio.add_oneshot(aio.aexit, aio.get_time_of_day() + 0.03)

    def start():
        aio.add_interval(tick, 0.002)

    aio.ainit(2, 1)
    aio.sched(start, hint=1)
    aio.amain()
    assert ticks == [1] * 5


def test_interval_hint_and_a_slow_callback_never_overlaps_itself():
    state = {"inside": 0, "overlaps": 0, "ticks": 0}
    lock = threading.Lock()

    def slow():
        with lock:
            state["inside"] += 1
            state["overlaps"] += state["inside"] > 1
        time.sleep(0.02)        # several intervals long
        with lock:
            state["inside"] -= 1
            state["ticks"] += 1
            done = state["ticks"] == 3
        if done:
            aio.remove_timer(slow)
            state["stats"] = aio.stats()
            aio.aexit(aioloop.thread_index())

    def start():
        aio.add_interval(slow, 0.004, hint=1)

    assert run_aio(start) == 1
    assert state["overlaps"] == 0
    # 20 ms callbacks on a 4 ms grid: the grid points that passed meanwhile
    # are skipped, not run back to back.
    assert state["stats"]["interval_missed"] >= 6
    assert state["stats"]["interval_ticks"] == 3


def test_interval_deadlines_are_start_plus_k_times_interval():
    # Whatever the callback costs, tick k is due at start + k * interval.
    seen = []

    def tick():
        (t,) = [t for t in aioloop.current_scheduler()._aio_state.timers]
        seen.append((t.k, t.handle.when() - t.start))
        if len(seen) == 4:
            aio.remove_timer(tick)
            aio.aexit()
        time.sleep(0.001)

    run_aio(lambda: aio.add_interval(tick, 0.01))
    for k, offset in seen:
        assert math.isclose(offset, k * 0.01, rel_tol=0, abs_tol=1e-9)
    assert [k for k, _ in seen] == sorted({k for k, _ in seen})


def test_an_interval_callback_that_raises_is_reported_and_keeps_ticking():
    errors = []
    ticks = []

    def tick():
        ticks.append(1)
        if len(ticks) == 3:
            aio.remove_timer(tick)
            aio.aexit()
        raise KeyError("tick")

    run_aio(lambda: aio.add_interval(tick, 0.002), errors=errors)
    assert len(ticks) == 3
    assert [type(c["exception"]) for c in errors] == [KeyError] * 3


# --- remove_timer -------------------------------------------------------------------

def test_remove_timer_by_callback_removes_every_timer_with_it():
    ran = []

    def fn():
        ran.append("fn")

    def start():
        t = time.time()
        aio.add_oneshot(fn, t + 0.02)
        aio.add_oneshot(fn, t + 0.03, hint=1)
        aio.add_interval(fn, 0.01)
        aio.add_oneshot(print, t + 60)
        counts = [aio.stats()["noneshot"], aio.stats()["ninterval"]]
        counts.append(aio.remove_timer(fn))
        counts.append(aio.remove_timer(fn))
        counts.append(aio.remove_timer(print))
        st = aio.stats()
        counts += [st["noneshot"], st["ninterval"]]
        aio.add_oneshot(lambda: aio.aexit(counts), t + 0.05)

    assert run_aio(start) == [3, 1, 3, 0, 1, 0, 0]
    assert ran == []


def test_remove_timer_by_deadline_removes_only_those_one_shots():
    ran = []

    def start():
        when = time.time() + 0.02
        aio.add_oneshot(lambda: ran.append("a"), when)
        aio.add_oneshot(lambda: ran.append("b"), when)
        aio.add_oneshot(lambda: ran.append("c"), when + 0.001)
        aio.add_interval(aio.get_time_of_day, when)     # not a one-shot
        got = [aio.remove_timer(when), aio.remove_timer(when)]
        got.append(aio.remove_timer(aio.get_time_of_day))
        aio.add_oneshot(lambda: aio.aexit(got), when + 0.03)

    assert run_aio(start) == [2, 0, 1]
    assert ran == ["c"]


def test_remove_timer_from_a_plain_thread():
    got = []
    aio.ainit(2, 1)
    aio.add_interval(print, 3600, hint=1)
    aio.add_oneshot(print, time.time() + 3600)
    started = threading.Event()
    aio.sched(started.set)

    def plain():
        started.wait(10)
        got.append(aio.remove_timer(print))
        aio.aexit()

    t = threading.Thread(target=plain)
    t.start()
    try:
        aio.amain()
    finally:
        t.join()
    assert got == [2]


@pytest.mark.parametrize("fn, args, exc, name", [
    (aio.add_oneshot, (None, 0), TypeError, "fn"),
    (aio.add_oneshot, (print, "now"), TypeError, "when"),
    (aio.add_oneshot, (print, float("nan")), ValueError, "when"),
    (aio.add_oneshot, (print, True), TypeError, "when"),
    (aio.add_interval, (print, 0), ValueError, "interval"),
    (aio.add_interval, (print, -1.0), ValueError, "interval"),
    (aio.add_interval, (print, float("inf")), ValueError, "interval"),
    (aio.add_interval, ("f", 1), TypeError, "fn"),
    (aio.remove_timer, ("f",), TypeError, "fn_or_when"),
    (aio.remove_timer, (None,), TypeError, "fn_or_when"),
    (aio.remove_timer, (float("nan"),), ValueError, "when"),
])
def test_timer_functions_check_their_arguments(fn, args, exc, name):
    aio.ainit(1, 1)
    try:
        with pytest.raises(exc, match=name):
            fn(*args)
        with pytest.raises(TypeError, match="hint"):
            aio.add_oneshot(print, 0, hint="1")
    finally:
        aio.aexit()
        aio.amain()


def test_asyncio_style_call_at_over_the_same_case(loop):
    # The asyncio twin of a one-shot: call_at on the loop's clock.
    got = []
    loop.call_at(loop.time() + 0.01, lambda: (got.append(1), loop.stop()))
    loop.run_forever()
    assert got == [1]


# --- now, get_time_of_day, stats ------------------------------------------------------

def test_now_is_read_once_per_pass():
    got = []

    def start():
        a = aio.now()
        time.sleep(0.002)
        b = aio.now()           # the same pass: the same value
        got.append(a == b)
        aio.sched(later, a, hint=0)

    def later(a):
        # A later pass of the same loop (after a sleep, so the clock moved).
        got.append(aio.now() > a)
        got.append(abs(aio.now() - time.time()) < 60)
        aio.aexit()

    run_aio(start)
    assert got == [True, True, True]


def test_now_on_a_dispatch_thread_reads_no_clock():
    got = []

    def start():
        before = aio.stats()["ntod"]
        values = {aio.now() for _ in range(100)}
        got.append((len(values), aio.stats()["ntod"] - before))
        aio.aexit()

    run_aio(start, threads=1)
    assert got == [(1, 0)]


def test_now_from_a_plain_thread_and_get_time_of_day_are_counted():
    aio.ainit(1, 1)
    try:
        before = aio.stats()["ntod"]
        t0 = time.time()
        assert t0 <= aio.get_time_of_day() <= time.time()
        assert aio.stats()["ntod"] == before + 1
        # Loops that never ran: now() reads the clock (and counts it).
        assert t0 <= aio.now() <= time.time()
        assert aio.stats()["ntod"] == before + 2
    finally:
        aio.aexit()
        aio.amain()


def test_stats_counts_checks_timers_and_every_loop():
    got = {}

    def start():
        got["first"] = aio.stats()
        aio.add_oneshot(print, time.time() + 3600)
        aio.add_interval(print, 3600)
        aio.add_interval(print, 3600, hint=1)
        aio.sched(lambda: (got.__setitem__("second", aio.stats()), aio.aexit()))

    run_aio(start)
    first, second = got["first"], got["second"]
    assert (first["noneshot"], first["ninterval"]) == (0, 0)
    assert (second["noneshot"], second["ninterval"]) == (1, 2)
    assert second["ncheckio"] > first["ncheckio"] > 0
    assert second["ntod"] >= first["ntod"]
    assert len(second["loops"]) == 2
    assert second["ncheckio"] == sum(ls["passes"] for ls in second["loops"])
    assert len(second["scheduler"]["threads"]) == 2
    assert set(second) >= {"ntod", "ncheckio", "noneshot", "ninterval",
                           "scheduler", "loops"}


# --- before ainit, after aexit ---------------------------------------------------------

NAMES = {
    "sched": (print,),
    "sched_io": (print, 0, aio.READ),
    "read": (print, 0),
    "write": (print, 1),
    "remove_read": (0,),
    "remove_write": (1,),
    "mk_async": (0,),
    "close_on_exec": (0,),
    "add_oneshot": (print, 0),
    "add_interval": (print, 1),
    "remove_timer": (print,),
    "now": (),
    "get_time_of_day": (),
    "stats": (),
    # The daemon operations (tested in test_daemon.py): harmless arguments,
    # refused before anything runs.
    "fsync": (print, 0),
    "open": (print, print, "/", 0),
    "close": (print, 0),
    "access": (print, "/", 0),
    "stat": (print, print, "/"),
    "fstat": (print, print, 0),
    "sendfile": (print, 1, 0, 0, 1),
    "pread": (print, print, 0, 1, 0),
    "pwrite": (print, 1, b"x", 0),
    "adial": (print, "tcp!127.0.0.1!1"),    # tested in test_dial.py
    # Signals and processes (tested in test_proc.py, test_aio_signals.py).
    "sig_install": (print, 10),
    "add_child_handler": (print, 1),
    "remove_child_handler": (1,),
    "aspawn": ("/bin/true", ["true"]),
}


def test_every_name_is_tested_here():
    # afork() is tested in test_proc.py (a refusal this test failed to see
    # would fork the test runner).
    assert set(NAMES) | {"ainit", "amain", "aexit", "READ", "WRITE", "Waitmsg",
                         "afork"} == set(aio.__all__)


@pytest.mark.parametrize("name", sorted(NAMES))
def test_every_name_before_ainit_is_a_clear_runtime_error(name):
    with pytest.raises(RuntimeError, match=r"not initialised: call aio.ainit\(\)"):
        getattr(aio, name)(*NAMES[name])


@pytest.mark.parametrize("name", sorted(NAMES))
def test_every_name_after_aexit_is_a_clear_runtime_error(name):
    got = []

    def start():
        aio.aexit()
        try:
            getattr(aio, name)(*NAMES[name])
        except RuntimeError as e:
            got.append(str(e))

    run_aio(start)
    assert len(got) == 1 and "aexit() was called" in got[0]


def test_a_oneshot_callback_that_raises_is_reported_and_the_thread_lives():
    errors = []

    def boom():
        raise OSError(5, "boom")

    def start():
        aio.add_oneshot(boom, 0, hint=1)
        aio.add_oneshot(lambda: aio.aexit(aioloop.thread_index()),
                        aio.get_time_of_day() + 0.03, hint=1)

    assert run_aio(start, errors=errors) == 1
    assert [type(c["exception"]) for c in errors] == [OSError]
