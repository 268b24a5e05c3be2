"""ainit, amain, aexit: configuration, the status, exit from anywhere,
nothing accepted lost, and clear errors out of order."""

import os
import threading

import pytest

import aioloop
from aioloop import aio
from aioloop.aio import _life

from .aiotest import run_aio


def test_amain_returns_the_status_given_to_aexit_from_a_callback():
    def start():
        aio.sched(aio.aexit, "done", hint=1)

    assert run_aio(start) == "done"


def test_aexit_from_a_plain_thread_ends_amain():
    aio.ainit(2, 1)
    started = threading.Event()
    aio.sched(started.set)
    t = threading.Thread(target=lambda: (started.wait(10), aio.aexit(7)))
    t.start()
    try:
        assert aio.amain() == 7
    finally:
        t.join()


def test_aexit_without_status_returns_none_and_a_second_aexit_is_ignored():
    def start():
        aio.aexit()
        aio.aexit("second")     # the first status wins

    assert run_aio(start) is None


def test_aexit_before_amain_makes_amain_return_at_once():
    aio.ainit(2, 1)
    aio.aexit(3)
    assert aio.amain() == 3


def test_ainit_runs_nthr_dispatch_threads_and_the_caller_is_thread_0():
    seen = set()
    lock = threading.Lock()
    barrier = threading.Barrier(3)
    me = threading.get_ident()

    def where(i):
        with lock:
            seen.add((i, aioloop.thread_index(), threading.get_ident() == me))
        barrier.wait(10)

    def start():
        aio.sched(lambda: (barrier.wait(10), aio.aexit("ok")), hint=0)

    aio.ainit(3, 1)
    for i in (1, 2):
        aio.sched(where, i, hint=i)
    aio.sched(start, hint=0)
    assert aio.amain() == "ok"
    assert seen == {(1, 1, False), (2, 2, False)}
    assert _life.running_scheduler() is None


def test_ainit_defaults_to_one_thread_per_cpu():
    aio.ainit()
    try:
        assert _life.running_scheduler().threads == (os.cpu_count() or 1)
    finally:
        aio.aexit()
        aio.amain()


def test_nothing_accepted_is_lost_at_aexit():
    ran = []
    lock = threading.Lock()

    def job(i):
        with lock:
            ran.append(i)

    def start():
        for i in range(500):
            aio.sched(job, i)
        for i in range(500, 1000):
            aio.sched(job, i, hint=i)
        aio.aexit("bye")

    assert run_aio(start) == "bye"
    assert sorted(ran) == list(range(1000))


def test_a_script_in_callback_style_runs_from_ainit_to_aexit():
    # No coroutine written by the user: callbacks, a timer, an fd.
    r, w = os.pipe()
    try:
        aio.ainit(2, 1)
        got = []

        def on_read(fd):
            got.append(os.read(fd, 10))
            aio.aexit(got)

        aio.read(on_read, r)
        aio.add_oneshot(lambda: os.write(w, b"hello"), aio.get_time_of_day())
        assert aio.amain() == [b"hello"]
    finally:
        os.close(r)
        os.close(w)


def test_ainit_twice_is_a_runtime_error():
    aio.ainit(1, 1)
    with pytest.raises(RuntimeError, match="already configured"):
        aio.ainit(1, 1)
    aio.aexit()
    aio.amain()


def test_amain_while_running_is_a_runtime_error():
    errors = []

    def start():
        try:
            aio.amain()
        except RuntimeError as e:
            errors.append(str(e))
        aio.aexit()

    run_aio(start)
    assert errors == ["amain() is already running"]


@pytest.mark.parametrize("call", [aio.amain, aio.aexit])
def test_amain_and_aexit_without_ainit_are_runtime_errors(call):
    with pytest.raises(RuntimeError, match="ainit"):
        call()


@pytest.mark.parametrize("args, exc, name", [
    (("2", 1), TypeError, "nthr"),
    ((0, 1), ValueError, "nthr"),
    ((True, 1), TypeError, "nthr"),
    ((1, 1.5), TypeError, "naiod"),
    ((1, 0), ValueError, "naiod"),
])
def test_ainit_checks_its_arguments(args, exc, name):
    with pytest.raises(exc, match=name):
        aio.ainit(*args)
    assert _life.running_scheduler() is None


def test_asyncio_style_runs_the_same_program_with_aioloop_run():
    # The asyncio-style twin of the status round trip.
    async def main():
        sp = aioloop.spawn(_where(), hint=1)
        return await sp

    async def _where():
        return aioloop.thread_index()

    assert aioloop.run(main(), threads=2) == 1
