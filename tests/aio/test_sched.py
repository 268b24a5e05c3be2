"""aio.sched and aio.sched_io: placement, plain threads, errors, re-arms."""

import os
import threading

import pytest

import aioloop
from aioloop import aio

from .aiotest import run_aio


def test_sched_runs_fn_with_its_arguments_on_the_hinted_thread():
    got = []

    def job(a, b):
        got.append((a, b, aioloop.thread_index()))
        if len(got) == 3:
            aio.aexit()

    def start():
        aio.sched(job, 1, 2, hint=1)
        aio.sched(job, 3, 4, hint=2)
        aio.sched(job, 5, 6, hint=4)    # 4 % 3

    run_aio(start, threads=3)
    assert sorted(got) == [(1, 2, 1), (3, 4, 2), (5, 6, 1)]


def test_sched_without_hint_from_a_dispatch_thread_runs_on_a_dispatch_thread():
    got = []

    def start():
        aio.sched(lambda: (got.append(aioloop.thread_index()), aio.aexit()))

    run_aio(start)
    assert got in ([0], [1])


def test_sched_works_from_plain_threads_before_and_during_amain():
    ran = []
    lock = threading.Lock()

    def job(tag):
        with lock:
            ran.append((tag, aioloop.thread_index() is not None))
            if len(ran) == 201:
                aio.aexit()

    aio.ainit(2, 1)
    aio.sched(job, "before")

    def producer():
        for i in range(200):
            aio.sched(job, i)

    started = threading.Event()
    aio.sched(started.set)
    t = threading.Thread(target=lambda: (started.wait(10), producer()))
    t.start()
    try:
        aio.amain()
    finally:
        t.join()
    assert sorted(ran, key=str) == sorted([("before", True)] + [(i, True) for i in range(200)], key=str)


def test_sched_returns_a_cancellable_handle():
    ran = []

    busy = threading.Event()
    release = threading.Event()

    def hold():
        busy.set()
        release.wait(10)

    def start():
        # Thread 1 is busy in hold(): the work cannot start before cancel().
        aio.sched(hold, hint=1)
        busy.wait(10)
        h = aio.sched(ran.append, "cancelled", hint=1)
        h.cancel()
        release.set()
        aio.sched(lambda: aio.aexit(), hint=1)

    run_aio(start)
    assert ran == []


def test_a_callback_that_raises_goes_to_the_exception_handler_and_the_thread_lives():
    errors = []

    def boom():
        raise ValueError("boom")

    def start():
        aio.sched(boom, hint=1)
        aio.sched(lambda: aio.aexit(aioloop.thread_index()), hint=1)

    assert run_aio(start, errors=errors) == 1
    assert len(errors) == 1
    assert isinstance(errors[0]["exception"], ValueError)


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(fn=42), TypeError, "fn"),
    (dict(fn=print, hint="1"), TypeError, "hint"),
    (dict(fn=print, hint=1.0), TypeError, "hint"),
])
def test_sched_checks_its_arguments(kwargs, exc, name):
    fn = kwargs.pop("fn")
    aio.ainit(1, 1)
    try:
        with pytest.raises(exc, match=name):
            aio.sched(fn, **kwargs)
    finally:
        aio.aexit()
        aio.amain()


def test_sched_before_ainit_and_after_aexit_is_a_runtime_error():
    with pytest.raises(RuntimeError, match="ainit"):
        aio.sched(print)
    errors = []

    def start():
        aio.aexit()
        try:
            aio.sched(print)
        except RuntimeError as e:
            errors.append(str(e))

    run_aio(start)
    assert len(errors) == 1 and "aexit" in errors[0]
    with pytest.raises(RuntimeError, match="ainit"):
        aio.sched(print)


def test_asyncio_style_spawn_with_the_same_hints():
    async def where():
        return aioloop.thread_index()

    async def main():
        return [await aioloop.spawn(where(), hint=h) for h in (1, 2, 4)]

    assert aioloop.run(main(), threads=3) == [1, 2, 1]


# --- sched_io ------------------------------------------------------------------

def test_sched_io_runs_fn_then_rearms_it_for_read():
    # fn runs once as a task, then once more as the one-shot read callback
    # the end of that task armed; nothing re-arms it after that.
    r, w = os.pipe()
    os.set_blocking(r, False)
    got = []

    def handler(fd):
        got.append((os.read(fd, 100), aioloop.thread_index()))
        if len(got) == 1:
            os.write(w, b"1")
        else:
            aio.add_oneshot(aio.aexit, aio.get_time_of_day() + 0.05)

    def start():
        os.write(w, b"0")
        aio.sched_io(handler, r, aio.READ, hint=1)

    try:
        run_aio(start)
    finally:
        os.close(r)
        os.close(w)
    # The fd was new: it belongs to the loop fn ran on (the hint's).
    assert got == [(b"0", 1), (b"1", 1)]


def test_sched_io_from_the_fds_own_callback_costs_no_epoll_ctl():
    # libaio's pattern: the one-shot callback hands the I/O to a task, whose
    # end re-arms the callback. N cycles, one registration.
    r, w = os.pipe()
    os.set_blocking(r, False)
    n = 300
    count = [0, 0]      # cycles, reads that found nothing (a stale event)
    ctl = []

    phase = ["callback"]

    def step(fd):
        # Armed, it fires as fd's one-shot callback and hands the I/O to a
        # task (itself, through sched_io); the task's end re-arms it.
        if phase[0] == "callback":
            phase[0] = "task"
            aio.sched_io(step, fd, aio.READ)
            return
        phase[0] = "callback"
        try:
            os.read(fd, 100)
        except BlockingIOError:
            count[1] += 1
        count[0] += 1
        if count[0] == n:
            aio.remove_read(fd)
            ctl.append(aioloop.current_scheduler().loops[0].stats()["epoll_ctl"])
            aio.aexit()
        else:
            os.write(w, b"x")

    def start():
        ctl.append(aioloop.current_scheduler().loops[0].stats()["epoll_ctl"])
        aio.read(step, r)
        os.write(w, b"x")

    try:
        run_aio(start)
    finally:
        os.close(r)
        os.close(w)
    assert count == [n, 0]
    assert ctl[1] - ctl[0] == 1     # the first EPOLL_CTL_ADD, nothing more


def test_remove_read_cancels_a_pending_sched_io_rearm():
    r, w = os.pipe()
    got = []

    def work(fd):
        got.append("work")
        assert aio.remove_read(fd) is None      # nothing armed; the re-arm is dropped

    def later():
        got.append(aio.remove_read(r))
        aio.aexit()

    def start():
        aio.sched_io(work, r, aio.READ)
        aio.add_oneshot(later, aio.get_time_of_day() + 0.05)
        os.write(w, b"x")

    try:
        run_aio(start)
    finally:
        os.close(r)
        os.close(w)
    assert got == ["work", None]


@pytest.mark.parametrize("args, exc, name", [
    ((None, 0, aio.READ), TypeError, "fn"),
    ((print, "0", aio.READ), TypeError, "fd"),
    ((print, -1, aio.READ), ValueError, "fd"),
    ((print, 0, 3), ValueError, "op"),
    ((print, 0, "r"), TypeError, "op"),
])
def test_sched_io_checks_its_arguments(args, exc, name):
    aio.ainit(1, 1)
    try:
        with pytest.raises(exc, match=name):
            aio.sched_io(*args)
    finally:
        aio.aexit()
        aio.amain()


def test_sched_io_rearms_for_write():
    r, w = os.pipe()
    got = []

    def handler(fd):
        got.append((fd, aioloop.thread_index()))
        if len(got) == 2:
            aio.aexit()

    try:
        run_aio(lambda: aio.sched_io(handler, w, aio.WRITE, hint=1))
    finally:
        os.close(r)
        os.close(w)
    assert got == [(w, 1), (w, 1)]


def test_a_cancelled_sched_io_neither_runs_nor_rearms():
    r, w = os.pipe()
    got = []
    busy = threading.Event()
    release = threading.Event()

    def hold():
        busy.set()
        release.wait(10)

    def start():
        aio.sched(hold, hint=1)
        busy.wait(10)
        h = aio.sched_io(got.append, w, aio.WRITE, hint=1)
        h.cancel()
        got.append(h.cancelled())
        release.set()
        aio.add_oneshot(lambda: aio.aexit(aio.stats()["fds"]), aio.get_time_of_day() + 0.05)

    try:
        assert run_aio(start) == 0
    finally:
        os.close(r)
        os.close(w)
    assert got == [True]
