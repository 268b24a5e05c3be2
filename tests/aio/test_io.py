"""One-shot I/O callbacks: aio.read, aio.write, aio.remove_read,
aio.remove_write, aio.mk_async, aio.close_on_exec."""

import errno
import os
import tempfile
import threading

import pytest

import aioloop
from aioloop import aio

from .aiotest import run_aio


@pytest.fixture
def pipe():
    r, w = os.pipe()
    os.set_blocking(r, False)
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def exit_soon(status=None, delay=0.05):
    """aexit after a few passes of every loop (a bound, not a timing)."""
    aio.add_oneshot(lambda: aio.aexit(status), aio.get_time_of_day() + delay)


def ctl(i=0):
    return aioloop.current_scheduler().loops[i].stats()["epoll_ctl"]


# --- read / write ------------------------------------------------------------------

def test_read_fires_once_on_the_loop_that_armed_it(pipe):
    r, w = pipe
    calls = []

    def on_read(fd):
        calls.append((fd, aioloop.thread_index()))
        # Not read and not re-armed: the fd stays readable, the callback
        # must not run again.
        exit_soon()

    def start():
        assert aio.read(on_read, r) is None
        os.write(w, b"x")

    aio.ainit(2, 1)
    aio.sched(start, hint=1)
    aio.amain()
    assert calls == [(r, 1)]


def test_write_fires_once_when_writable(pipe):
    r, w = pipe
    calls = []

    def start():
        aio.write(lambda fd: (calls.append(fd), exit_soon()), w)

    run_aio(start)
    assert calls == [w]


def test_read_returns_the_callback_it_replaced(pipe):
    r, w = pipe
    got = []

    def first(fd):
        got.append("first")

    def second(fd):
        got.append("second")
        exit_soon()

    def start():
        got.append(aio.read(first, r))
        got.append(aio.read(second, r))
        got.append(aio.write(first, w))
        got.append(aio.remove_write(w))
        os.write(w, b"x")

    run_aio(start)
    assert got == [None, first, None, first, "second"]


def test_a_rearm_from_the_callback_costs_no_epoll_ctl(pipe):
    # N fire + re-arm cycles: one EPOLL_CTL_ADD, then nothing.
    r, w = pipe
    n = 1000
    state = {"n": 0, "empty": 0}
    counts = []

    def on_read(fd):
        try:
            os.read(fd, 100)
        except BlockingIOError:
            state["empty"] += 1
        state["n"] += 1
        if state["n"] == n:
            counts.append(ctl())
            aio.aexit()
            return
        aio.read(on_read, fd)
        os.write(w, b"x")

    def start():
        counts.append(ctl())
        aio.read(on_read, r)
        os.write(w, b"x")

    run_aio(start)
    assert state == {"n": n, "empty": 0}
    assert counts[1] - counts[0] == 1


def test_a_callback_never_sees_readiness_older_than_its_arm(pipe):
    # Re-armed *before* it reads, the callback could be handed the event
    # polled before it consumed the data; it must wait for the next poll.
    r, w = pipe
    n = 300
    state = {"n": 0, "empty": 0}

    def on_read(fd):
        aio.read(on_read, fd)
        try:
            os.read(fd, 100)
        except BlockingIOError:
            state["empty"] += 1
        state["n"] += 1
        if state["n"] == n:
            aio.remove_read(fd)
            aio.aexit()
        else:
            os.write(w, b"x")

    def start():
        aio.read(on_read, r)
        os.write(w, b"x")

    run_aio(start)
    assert state == {"n": n, "empty": 0}


def test_a_late_rearm_renews_the_registration_once(pipe):
    # Not re-armed by the callback: the fd may be closed meanwhile, so the
    # next arm renews the registration (one epoll_ctl), and nothing fires
    # in between.
    r, w = pipe
    got = []
    counts = []

    def on_read(fd):
        os.read(fd, 100)
        got.append("fired")
        counts.append(ctl())
        aio.sched(rearm)

    def rearm():
        aio.read(on_second, r)
        counts.append(ctl())
        os.write(w, b"y")

    def on_second(fd):
        got.append(os.read(fd, 100))
        aio.remove_read(fd)
        aio.aexit()

    def start():
        aio.read(on_read, r)
        os.write(w, b"x")

    run_aio(start, threads=1)
    assert got == ["fired", b"y"]
    assert counts[1] - counts[0] == 1


def test_a_closed_and_reused_fd_number_is_armed_again(pipe):
    # The callback closes its fd without re-arming; a new pipe gets the same
    # number: its arm must reach the kernel (the old registration is gone).
    r, w = pipe
    got = []
    new = []

    def on_read(fd):
        os.read(fd, 100)
        os.close(fd)
        r2, w2 = os.pipe()
        new.extend((r2, w2))
        got.append(r2 == r)
        aio.read(on_new, r2)
        os.write(w2, b"z")

    def on_new(fd):
        got.append(os.read(fd, 100))
        aio.aexit()

    def start():
        aio.read(on_read, r)
        os.write(w, b"x")

    try:
        run_aio(start, threads=1)
    finally:
        for fd in new:
            if fd != r:
                os.close(fd)
    assert got == [True, b"z"]


def test_read_from_a_plain_thread_arms_on_the_hinted_loop(pipe):
    r, w = pipe
    got = []

    def on_read(fd):
        got.append(aioloop.thread_index())
        aio.aexit()

    aio.ainit(3, 1)
    aio.read(on_read, r, hint=2)        # before amain, from this plain thread
    os.write(w, b"x")
    aio.amain()
    assert got == [2]


def test_read_from_a_plain_thread_without_hint_arms_on_loop_0(pipe):
    r, w = pipe
    got = []
    aio.ainit(2, 1)
    aio.read(lambda fd: (got.append(aioloop.thread_index()), aio.aexit()), r)
    os.write(w, b"x")
    aio.amain()
    assert got == [0]


def test_an_fd_stays_on_its_loop_when_another_thread_rearms_it(pipe):
    # Armed on loop 0, re-armed from thread 1: it fires on loop 0, and
    # loop 1 never registers it (one epoll set per fd).
    r, w = pipe
    got = []
    counts = {}

    def first(fd):
        got.append(("first", aioloop.thread_index()))

    def second(fd):
        got.append(("second", aioloop.thread_index()))
        counts["loop1_after"] = ctl(1)
        aio.remove_read(fd)
        aio.aexit()

    def on_thread_1():
        counts["loop1_before"] = ctl(1)
        got.append(aio.read(second, r))
        os.write(w, b"x")

    def start():
        aio.read(first, r)
        aio.sched(on_thread_1, hint=1)

    run_aio(start)
    assert got == [first, ("second", 0)]
    assert counts["loop1_after"] == counts["loop1_before"]


def test_remove_read_from_a_plain_thread_reaches_the_fds_loop(pipe):
    r, w = pipe
    fired = []
    armed = threading.Event()
    result = []

    def start():
        aio.read(fired.append, r)
        armed.set()

    def plain():
        armed.wait(10)
        result.append(aio.remove_read(r))
        result.append(aio.remove_read(r))
        os.write(w, b"x")
        # A sched after the removal runs after the loop dropped the fd
        # (its inbox is FIFO): give it a few passes to fire by mistake.
        aio.sched(exit_soon, hint=1)

    t = threading.Thread(target=plain)
    t.start()
    aio.ainit(2, 1)
    aio.sched(start, hint=1)
    try:
        aio.amain()
    finally:
        t.join()
    assert result == [fired.append, None]
    assert fired == []


def test_remove_write_returns_the_callback_or_none(pipe):
    r, w = pipe
    got = []

    def start():
        got.append(aio.remove_write(w))
        aio.write(print, w)
        got.append(aio.remove_write(w))
        got.append(aio.remove_read(w))
        exit_soon()

    run_aio(start)
    assert got == [None, print, None]


def test_a_callback_that_raises_reaches_the_exception_handler(pipe):
    r, w = pipe
    errors = []

    def bad(fd):
        raise ZeroDivisionError

    def good(fd):
        aio.aexit(aioloop.thread_index())

    def start():
        aio.read(bad, r)
        os.write(w, b"x")
        aio.add_oneshot(lambda: aio.read(good, r, hint=0), aio.get_time_of_day() + 0.05, hint=0)

    assert run_aio(start, errors=errors) == 0
    assert len(errors) == 1
    assert isinstance(errors[0]["exception"], ZeroDivisionError)
    assert "read callback" in errors[0]["message"]


def test_read_of_a_regular_file_is_eperm_from_its_own_loop():
    errors = []

    def start():
        with tempfile.TemporaryFile() as f:
            try:
                aio.read(print, f.fileno())
            except OSError as e:
                errors.append(e.errno)
            errors.append(aio.remove_read(f.fileno()))
        aio.aexit()

    run_aio(start)
    assert errors == [errno.EPERM, None]


def test_read_of_a_closed_fd_is_ebadf(pipe):
    r, w = pipe
    got = []

    def start():
        os.close(r)
        try:
            aio.read(print, r)
        except OSError as e:
            got.append(e.errno)
        aio.aexit()

    run_aio(start, threads=1)
    assert got == [errno.EBADF]


def test_a_refused_arm_from_another_thread_reaches_the_exception_handler():
    errors = []
    got = []
    with tempfile.TemporaryFile() as f:
        aio.ainit(2, 1)
        aio.read(print, f.fileno(), hint=1)     # plain thread: checked on loop 1

        def later():
            got.append(aio.remove_read(f.fileno()))
            aio.aexit()

        aio.add_oneshot(later, aio.get_time_of_day() + 0.05, hint=1)
        from aioloop.aio import _life
        _life.running_scheduler().set_exception_handler(lambda l, c: errors.append(c))
        aio.amain()
    assert got == [None]
    assert len(errors) == 1
    assert errors[0]["exception"].errno == errno.EPERM


@pytest.mark.parametrize("fn, args, exc, name", [
    (aio.read, (None, 0), TypeError, "fn"),
    (aio.read, (print, "0"), TypeError, "fd"),
    (aio.read, (print, -1), ValueError, "fd"),
    (aio.read, (print, True), TypeError, "fd"),
    (aio.write, (42, 1), TypeError, "fn"),
    (aio.write, (print, 1.0), TypeError, "fd"),
    (aio.remove_read, ("x",), TypeError, "fd"),
    (aio.remove_write, (-2,), ValueError, "fd"),
    (aio.mk_async, (None,), TypeError, "fd"),
    (aio.close_on_exec, (-1,), ValueError, "fd"),
    (aio.close_on_exec, (0, 1), TypeError, "on"),
])
def test_io_functions_check_their_arguments(fn, args, exc, name):
    aio.ainit(1, 1)
    try:
        with pytest.raises(exc, match=name):
            fn(*args)
    finally:
        aio.aexit()
        aio.amain()


def test_read_checks_hint():
    aio.ainit(1, 1)
    try:
        with pytest.raises(TypeError, match="hint"):
            aio.read(print, 0, hint="0")
    finally:
        aio.aexit()
        aio.amain()


# --- mk_async / close_on_exec -------------------------------------------------------

def test_mk_async_and_close_on_exec_set_the_flags(pipe):
    r, w = pipe
    aio.ainit(1, 1)
    try:
        assert os.get_blocking(w)
        aio.mk_async(w)
        assert not os.get_blocking(w)
        aio.close_on_exec(w, False)
        assert os.get_inheritable(w)
        aio.close_on_exec(w)
        assert not os.get_inheritable(w)
        os.close(w)
        with pytest.raises(OSError) as e:
            aio.mk_async(w)
        assert e.value.errno == errno.EBADF
        with pytest.raises(OSError) as e:
            aio.close_on_exec(w)
        assert e.value.errno == errno.EBADF
    finally:
        aio.aexit()
        aio.amain()


# --- the asyncio style over the same case --------------------------------------------

def test_asyncio_style_one_shot_reader(loop, pipe):
    # add_reader + remove_reader in the callback: the same one-shot, on
    # stock asyncio and on aioloop.
    r, w = pipe
    calls = []

    def on_read():
        calls.append(os.read(r, 10))
        loop.remove_reader(r)
        loop.call_later(0.05, loop.stop)

    loop.add_reader(r, on_read)
    os.write(w, b"ab")
    loop.run_forever()
    os.write(w, b"cd")
    loop.call_later(0.05, loop.stop)
    loop.run_forever()
    assert calls == [b"ab"]
