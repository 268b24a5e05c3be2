"""aio.sig_install: signal handlers of the callback-style API, run as tasks
on the scheduler. (Named test_aio_signals: tests/unix/test_signals.py holds
the loop's own add_signal_handler tests, and test modules need unique
names.) The asyncio-style case, loop.add_signal_handler, runs on stock
asyncio and aioloop at the end."""

import asyncio
import os
import signal
import threading

import pytest

import aioloop
from aioloop import aio
from aioloop.aio import _life
from .proc_helpers import aio_clean, run_aio, wait_until  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("aio_clean")
USR1, USR2 = signal.SIGUSR1, signal.SIGUSR2


def _kill(sig):
    os.kill(os.getpid(), sig)


def test_sig_install_runs_fn_with_the_signal_number_as_a_task():
    seen = []

    def handler(signum):
        seen.append((signum, type(signum), aioloop.current_scheduler() is _life.require(),
                     aioloop.thread_index() in (0, 1)))
        aio.aexit("handled")

    def start():
        seen.append(aio.sig_install(handler, USR1))
        _kill(USR1)

    status, errors = run_aio(start)
    assert (status, errors) == ("handled", [])
    assert seen == [None, (USR1, int, True, True)]


def test_sig_install_returns_the_handler_it_replaces():
    seen = []

    def f(signum):
        seen.append("f")

    def g(signum):
        seen.append(("g", signum))
        aio.aexit("done")

    def start():
        seen.append(aio.sig_install(f, USR1))
        seen.append(signal.getsignal(USR1) not in (signal.SIG_DFL, signal.SIG_IGN))
        seen.append(aio.sig_install(g, USR1) is f)
        _kill(USR1)         # only g, the handler now installed, runs

    status, errors = run_aio(start)
    assert (status, errors) == ("done", [])
    assert seen == [None, True, True, ("g", USR1)]


def test_sig_install_none_removes_the_handler_and_restores_the_default():
    seen = []

    def f(signum):
        pass

    def start():
        seen.append(aio.sig_install(f, USR1))
        seen.append(aio.sig_install(f, signal.SIGINT))
        seen.append(aio.sig_install(None, USR1) is f)
        seen.append(aio.sig_install(None, USR1))        # none installed: nothing
        seen.append(signal.getsignal(USR1))
        seen.append(aio.sig_install(None, signal.SIGINT) is f)
        seen.append(signal.getsignal(signal.SIGINT))
        aio.aexit("done")

    status, errors = run_aio(start)
    assert (status, errors) == ("done", [])
    assert seen == [None, None, True, None, signal.SIG_DFL, True,
                    signal.default_int_handler]


def test_sig_install_from_another_dispatch_thread_reaches_loop_0():
    seen = []

    def handler(signum):
        seen.append(signum)
        aio.aexit("handled")

    def start():
        seen.append(aioloop.thread_index())
        seen.append(aio.sig_install(handler, USR2))
        _kill(USR2)

    status, errors = run_aio(start, threads=3, hint=2)
    assert (status, errors) == ("handled", [])
    assert seen == [2, None, USR2]


def test_sig_install_from_a_plain_thread_while_amain_runs():
    seen = []
    threads = []

    def handler(signum):
        seen.append(signum)
        aio.aexit("handled")

    def plain():
        seen.append(aio.sig_install(handler, USR1))
        _kill(USR1)

    def start():
        t = threading.Thread(target=plain)
        threads.append(t)
        t.start()

    status, errors = run_aio(start)
    threads[0].join()
    assert (status, errors) == ("handled", [])
    assert seen == [None, USR1]


def test_sig_install_before_amain_from_the_main_thread():
    seen = []

    def handler(signum):
        seen.append(signum)
        aio.aexit("handled")

    aio.ainit(2, 1)
    assert aio.sig_install(handler, USR1) is None
    sched = _life.require()
    sched.sched(_kill, USR1)
    assert aio.amain() == "handled"
    assert seen == [USR1]
    assert signal.getsignal(USR1) == signal.SIG_DFL


def test_sig_install_before_amain_from_another_thread_raises():
    caught = []

    def plain():
        try:
            aio.sig_install(print, USR1)
        except RuntimeError as exc:
            caught.append(str(exc))

    aio.ainit(2, 1)
    t = threading.Thread(target=plain)
    t.start()
    t.join()
    aio.aexit(None)
    aio.amain()
    assert len(caught) == 1 and "main thread" in caught[0]


def test_sig_install_with_amain_outside_the_main_thread_raises():
    caught = []

    def start():
        try:
            aio.sig_install(print, USR1)
        except RuntimeError as exc:
            caught.append(str(exc))
        aio.aexit("done")

    result = []
    t = threading.Thread(target=lambda: result.append(run_aio(start)))
    t.start()
    t.join()
    assert result == [("done", [])]
    assert len(caught) == 1 and "main thread" in caught[0]
    assert signal.getsignal(USR1) == signal.SIG_DFL


def test_a_handler_that_raises_goes_to_the_exception_handler_and_threads_survive():
    ran = []
    errors = []
    lock = threading.Lock()

    def bad(signum):
        raise ValueError(f"boom {signum}")

    def after(i):
        with lock:
            ran.append(i)
            if len(ran) == 2:
                aio.aexit("done")

    def on_error(loop, ctx):
        # On the dispatch thread bad() failed in; then both dispatch threads
        # still run work.
        errors.append(ctx)
        _life.require().sched(after, 0, hint=0)
        _life.require().sched(after, 1, hint=1)

    def start():
        aio.sig_install(bad, USR1)
        _kill(USR1)

    aio.ainit(2, 1)
    sched = _life.require()
    sched.set_exception_handler(on_error)
    sched.sched(start)
    assert aio.amain() == "done"
    assert sorted(ran) == [0, 1]
    assert len(errors) == 1
    exc = errors[0]["exception"]
    assert type(exc) is ValueError and str(exc) == f"boom {int(USR1)}"


def test_a_signal_while_aio_exits_is_reported_not_dropped():
    # A task on thread 1 is cancelled by the shutdown, after the scheduler
    # stopped taking work: the signal it sends then cannot start a task.
    reported = []

    async def on_thread_1():
        aio.aexit("done")       # once this task runs: its cancellation follows
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            _kill(USR1)
            for _ in range(2000):
                if reported:
                    break
                await asyncio.sleep(0.005)

    def handler(signum):
        reported.append("ran")

    def start():
        aio.sig_install(handler, USR1)
        _life.require().spawn(on_thread_1(), hint=1)

    def on_error(loop, ctx):
        reported.append(ctx)

    aio.ainit(2, 1)
    sched = _life.require()
    sched.set_exception_handler(on_error)
    sched.sched(start)
    assert aio.amain() == "done"
    assert len(reported) == 1
    ctx = reported[0]
    assert "signal 10 arrived while aio exits" in ctx["message"]
    assert isinstance(ctx["exception"], RuntimeError)


@pytest.mark.parametrize("fn, sig, exc, words", [
    ("not callable", USR1, TypeError, "fn"),
    (print, "10", TypeError, "sig"),
    (print, True, TypeError, "sig"),
    (print, 0, ValueError, "sig"),
    (print, 4096, ValueError, "sig"),
    (print, signal.SIGKILL, ValueError, "SIGKILL cannot be caught"),
    (print, signal.SIGSTOP, ValueError, "SIGSTOP cannot be caught"),
])
def test_sig_install_validates_its_arguments(fn, sig, exc, words):
    with pytest.raises(exc, match=words):
        aio.sig_install(fn, sig)


def test_sig_install_refuses_a_coroutine_function():
    async def handler(signum):
        pass

    with pytest.raises(TypeError, match="coroutine function"):
        aio.sig_install(handler, USR1)


def test_sig_install_before_ainit_and_after_amain_raises():
    with pytest.raises(RuntimeError, match="ainit"):
        aio.sig_install(print, USR1)
    status, errors = run_aio(lambda: aio.aexit(7))
    assert (status, errors) == (7, [])
    with pytest.raises(RuntimeError, match="ainit"):
        aio.sig_install(print, USR1)


def test_handlers_are_removed_when_aio_exits():
    seen = []

    def start():
        seen.append(aio.sig_install(print, USR1))
        seen.append(aio.sig_install(print, USR2))
        seen.append(signal.getsignal(USR1) not in (signal.SIG_DFL, signal.SIG_IGN))
        aio.aexit("done")

    wakeup = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(wakeup)
    status, errors = run_aio(start)
    assert (status, errors) == ("done", [])
    assert seen == [None, None, True]
    assert signal.getsignal(USR1) == signal.SIG_DFL
    assert signal.getsignal(USR2) == signal.SIG_DFL
    assert signal.set_wakeup_fd(wakeup) == wakeup


# --- asyncio style: the same case on stock asyncio and aioloop -----------------

def test_a_signal_runs_its_handler_asyncio_style(loop):
    seen = []

    def handler(signum):
        seen.append(signum)
        loop.stop()

    loop.add_signal_handler(USR1, handler, USR1)
    loop.call_soon(_kill, USR1)
    timeout = loop.call_later(20, loop.stop)
    try:
        loop.run_forever()
    finally:
        timeout.cancel()
        assert loop.remove_signal_handler(USR1) is True
    assert seen == [USR1]
    assert signal.getsignal(USR1) == signal.SIG_DFL


def test_a_fork_after_amain_returned_keeps_the_signals_set_since():
    # The at-fork hook resets only the running aio's signals: once amain()
    # has returned, a handler the program set later survives into a child,
    # even while that old Scheduler is still referenced.
    kept = []

    def start():
        kept.append(_life.require())
        aio.sig_install(lambda signum: None, signal.SIGUSR1)
        aio.aexit("done")

    status, errors = run_aio(start)
    assert status == "done"
    mine = lambda signum, frame: None      # noqa: E731
    old = signal.signal(signal.SIGUSR1, mine)
    try:
        pid = os.fork()
        if pid == 0:
            os._exit(0 if signal.getsignal(signal.SIGUSR1) is mine else 1)
        _, wstatus = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(wstatus) == 0
    finally:
        signal.signal(signal.SIGUSR1, old)
