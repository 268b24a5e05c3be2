"""aio's processes: add_child_handler/remove_child_handler (a pidfd on loop
0, the Waitmsg record), afork (the child starts with aio idle), aspawn
(fork+exec, exec errors in the parent). The asyncio-style cases
(create_subprocess_exec) run on stock asyncio and aioloop at the end."""

import asyncio
import errno
import os
import resource
import signal
import sys
import threading

import pytest

import aioloop
from aioloop import aio
from aioloop.aio import _life
from helpers import open_fds
from .proc_helpers import aio_clean, run_aio, wait_until  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("aio_clean")
PY = sys.executable
# os.fork() in a process with threads warns on Python 3.12+; afork is that.
FORK_WARNING = "ignore:This process .* is multi-threaded:DeprecationWarning"
SLEEPER = "import time; time.sleep(120)"       # a child that runs until killed


def spawn_python(code, *args, **kw):
    return aio.aspawn(PY, [PY, "-c", code, *args], **kw)


def _pidfds():
    return sorted(fd for fd, path in open_fds().items() if "pidfd" in path)


def _exited(pid):
    """Wait (without reaping) until child pid has exited."""
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


# --- add_child_handler, remove_child_handler --------------------------------------

def test_child_handler_gets_the_exit_status_and_rusage_as_a_task():
    seen = []

    def on_exit(msg):
        seen.append((msg, aioloop.current_scheduler() is _life.require()))
        aio.aexit("done")

    def start():
        pid = spawn_python("import sys; sys.exit(7)")
        seen.append(pid)
        seen.append(aio.add_child_handler(on_exit, pid))
        seen.append(signal.getsignal(signal.SIGCHLD))    # no SIGCHLD handler

    status, errors = run_aio(start)
    assert (status, errors) == ("done", [])
    pid, added, sigchld, (msg, on_sched) = seen
    assert (added, sigchld, on_sched) == (None, signal.SIG_DFL, True)
    assert isinstance(msg, aio.Waitmsg)
    assert (msg.pid, msg.status, msg.signal) == (pid, 7, None)
    assert isinstance(msg.rusage, resource.struct_rusage)
    assert msg.rusage.ru_utime + msg.rusage.ru_stime > 0    # a Python ran


def test_child_handler_gets_the_signal_that_killed_the_child():
    seen = []

    def on_exit(msg):
        seen.append(msg)
        aio.aexit("done")

    def start():
        pid = spawn_python(SLEEPER)
        seen.append(pid)
        aio.add_child_handler(on_exit, pid)
        os.kill(pid, signal.SIGTERM)

    status, errors = run_aio(start)
    assert (status, errors) == ("done", [])
    pid, msg = seen
    assert (msg.pid, msg.status, msg.signal) == (pid, None, signal.SIGTERM)
    assert isinstance(msg.rusage, resource.struct_rusage)


def test_a_child_that_exited_already_is_reported_at_once():
    seen = []

    def start():
        pid = spawn_python("import os; os._exit(3)")
        _exited(pid)
        aio.add_child_handler(lambda msg: (seen.append(msg), aio.aexit("done")), pid)

    status, errors = run_aio(start)
    assert (status, errors) == ("done", [])
    assert [(m.status, m.signal) for m in seen] == [(3, None)]


def test_add_child_handler_before_amain_and_from_a_plain_thread():
    seen = []
    lock = threading.Lock()

    def on_exit(msg):
        with lock:
            seen.append(msg.status)
            if len(seen) == 3:
                aio.aexit("done")

    aio.ainit(2, 1)
    pid1 = spawn_python("import os; os._exit(11)")
    assert aio.add_child_handler(on_exit, pid1) is None      # loop 0 not running yet
    early = threading.Thread(target=lambda: seen.append(aio.add_child_handler(
        on_exit, spawn_python("import os; os._exit(10)"))))
    early.start()                   # not running yet either, another thread
    early.join()
    assert seen == [None]
    seen.clear()
    sched = _life.require()
    t = threading.Thread(target=lambda: aio.add_child_handler(
        on_exit, spawn_python("import os; os._exit(12)")))
    sched.sched(t.start)
    assert aio.amain() == "done"
    t.join()
    assert sorted(seen) == [10, 11, 12]


def test_add_child_handler_replaces_and_returns_the_previous_handler():
    seen = []

    def first(msg):
        seen.append("first")

    def second(msg):
        seen.append(("second", msg.status))
        aio.aexit("done")

    def start():
        pid = spawn_python(SLEEPER)
        seen.append(aio.add_child_handler(first, pid))
        seen.append(aio.add_child_handler(second, pid) is first)
        seen.append(len(_pidfds()))                       # one watch still
        os.kill(pid, signal.SIGKILL)

    status, errors = run_aio(start)
    assert (status, errors) == ("done", [])
    assert seen == [None, True, 1, ("second", None)]


def test_remove_child_handler_returns_it_and_leaves_the_child_unreaped():
    seen = []

    def handler(msg):
        seen.append("ran")

    def start():
        pid = spawn_python(SLEEPER)     # runs until killed: never reaped by aio
        pidfds = _pidfds()
        aio.add_child_handler(handler, pid)
        seen.append(len(_pidfds()) - len(pidfds))
        seen.append(aio.remove_child_handler(pid) is handler)
        seen.append(aio.remove_child_handler(pid))
        seen.append(_pidfds() == pidfds)
        # Nobody reaps it now: the caller does.
        os.kill(pid, signal.SIGKILL)
        seen.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        aio.aexit("done")

    status, errors = run_aio(start, hint=1)
    assert (status, errors) == ("done", [])
    assert seen == [1, True, None, True, -signal.SIGKILL]


def test_a_child_handler_that_raises_goes_to_the_exception_handler():
    ran = []

    def bad(msg):
        raise KeyError(msg.status)

    def after(i):
        ran.append(i)
        if len(ran) == 2:
            aio.aexit("done")

    def on_error(loop, ctx):
        errors.append(ctx)
        _life.require().sched(after, 0, hint=0)
        _life.require().sched(after, 1, hint=1)

    errors = []
    aio.ainit(2, 1)
    sched = _life.require()
    sched.set_exception_handler(on_error)
    sched.sched(lambda: aio.add_child_handler(bad, spawn_python("import os; os._exit(4)")))
    assert aio.amain() == "done"
    assert sorted(ran) == [0, 1]
    assert len(errors) == 1
    assert type(errors[0]["exception"]) is KeyError
    assert errors[0]["exception"].args == (4,)


def test_a_pid_that_is_not_our_child_is_child_process_error():
    seen = []

    def start():
        for pid in (1, os.getpid(), 2 ** 22 + 1):
            try:
                aio.add_child_handler(print, pid)
            except ChildProcessError as exc:
                seen.append(exc.errno)
        pid = spawn_python("pass")
        _exited(pid)
        os.waitpid(pid, 0)          # reaped: no longer ours
        try:
            aio.add_child_handler(print, pid)
        except ChildProcessError as exc:
            seen.append(exc.errno)
        aio.aexit("done")

    status, errors = run_aio(start)
    assert (status, errors) == ("done", [])
    assert seen == [errno.ECHILD] * 4


def test_handlers_left_at_exit_are_reported_and_their_pidfds_closed():
    pids = []

    def start():
        pid = spawn_python(SLEEPER)
        pids.append(pid)
        aio.add_child_handler(print, pid)
        aio.aexit("done")

    pidfds = _pidfds()
    status, errors = run_aio(start)
    assert status == "done"
    assert _pidfds() == pidfds
    assert [e["message"] for e in errors] == [
        "aioloop.aio exits while child handlers are installed: handlers of "
        f"pids {pids[0]} dropped, the children are not reaped"]
    os.kill(pids[0], signal.SIGKILL)
    assert os.waitstatus_to_exitcode(os.waitpid(pids[0], 0)[1]) == -signal.SIGKILL


def test_add_child_handler_while_aio_exits_raises():
    seen = []

    async def on_thread_1():
        pid = spawn_python("pass")      # aspawn too is refused after aexit()
        aio.aexit("done")       # once this task runs: its cancellation follows
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            try:
                aio.add_child_handler(print, pid)
            except RuntimeError as exc:
                seen.append(str(exc))
            os.waitpid(pid, 0)

    def start():
        aio.add_child_handler(print, spawn_python(SLEEPER))
        _life.require().spawn(on_thread_1(), hint=1)

    status, errors = run_aio(start)
    assert status == "done" and len(errors) == 1
    pid = int(errors[0]["message"].split("pids ")[1].split()[0])
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    # Loop 0's tasks are cancelled (the watches with them) before the other
    # loops drain: thread 1's late call is refused, not leaked.
    assert len(seen) == 1 and seen[0].startswith("aio.add_child_handler(): "
                                                 "aioloop.aio is exiting")


@pytest.mark.parametrize("fn, pid, exc, words", [
    (None, 100, TypeError, "callable fn"),
    ("x", 100, TypeError, "callable fn"),
    (print, "100", TypeError, "pid"),
    (print, 100.0, TypeError, "pid"),
    (print, True, TypeError, "pid"),
    (print, 0, ValueError, "pid"),
    (print, -5, ValueError, "pid"),
    (print, 2 ** 31, ValueError, "pid"),
])
def test_add_child_handler_validates_its_arguments(fn, pid, exc, words):
    with pytest.raises(exc, match=words):
        aio.add_child_handler(fn, pid)


@pytest.mark.parametrize("pid, exc", [("1", TypeError), (None, TypeError),
                                      (0, ValueError), (-1, ValueError)])
def test_remove_child_handler_validates_its_argument(pid, exc):
    with pytest.raises(exc, match="pid"):
        aio.remove_child_handler(pid)


def test_add_child_handler_refuses_a_coroutine_function():
    async def handler(msg):
        pass

    with pytest.raises(TypeError, match="coroutine function"):
        aio.add_child_handler(handler, 100)


@pytest.mark.parametrize("call", [
    lambda: aio.add_child_handler(print, 100),
    lambda: aio.remove_child_handler(100),
    lambda: aio.afork(),
    lambda: aio.aspawn(PY, [PY, "-c", "pass"]),
])
def test_before_ainit_and_after_amain_raise_runtime_error(call):
    with pytest.raises(RuntimeError, match="ainit"):
        call()
    status, errors = run_aio(lambda: aio.aexit(0))
    assert (status, errors) == (0, [])
    with pytest.raises(RuntimeError, match="ainit"):
        call()


# --- afork ---------------------------------------------------------------------

def _child_runs_its_own_aio(parent_sched):
    # In the child of afork(): never returns.
    try:
        code = 50
        assert _life.running_scheduler() is None
        code = 55
        assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
        code = 51
        try:
            parent_sched.sched(print)
        except RuntimeError as exc:
            if "parent process" not in str(exc):
                os._exit(52)
        else:
            os._exit(53)
        aio.ainit(2, 1)
        code = 54
        ran = []

        def twice(i):
            ran.append(i)
            if len(ran) == 2:
                aio.aexit(40 + sum(ran))

        s = _life.require()
        s.sched(twice, 1, hint=0)
        s.sched(twice, 2, hint=1)
        os._exit(aio.amain())       # 43
    except BaseException:
        os._exit(code)


@pytest.mark.filterwarnings(FORK_WARNING)
def test_afork_child_starts_idle_and_runs_its_own_aio():
    seen = []

    def on_exit(msg):
        seen.append(msg)
        aio.aexit("done")

    def start():
        parent = _life.require()
        aio.sig_install(print, signal.SIGUSR1)     # not the child's
        pid = aio.afork()
        if pid == 0:
            _child_runs_its_own_aio(parent)
        seen.append(pid)
        aio.add_child_handler(on_exit, pid)
        # The parent's scheduler keeps running on every thread.
        parent.sched(seen.append, "thread 1 runs", hint=1)

    status, errors = run_aio(start, hint=0)
    assert (status, errors) == ("done", [])
    pid = seen[0]
    msgs = [m for m in seen if isinstance(m, aio.Waitmsg)]
    assert sorted(seen[1:], key=str) == sorted([msgs[0], "thread 1 runs"], key=str)
    assert [(m.pid, m.status, m.signal) for m in msgs] == [(pid, 43, None)]


@pytest.mark.filterwarnings(FORK_WARNING)
def test_afork_from_a_plain_thread_while_amain_runs():
    seen = []
    threads = []

    def plain():
        pid = aio.afork()
        if pid == 0:
            os._exit(17 if _life.running_scheduler() is None else 18)
        aio.add_child_handler(lambda msg: (seen.append(msg.status), aio.aexit("done")), pid)

    def start():
        threads.append(threading.Thread(target=plain))
        threads[0].start()

    status, errors = run_aio(start)
    threads[0].join()
    assert (status, errors, seen) == ("done", [], [17])


def test_afork_takes_no_argument():
    with pytest.raises(TypeError):
        aio.afork(1)


# --- aspawn ----------------------------------------------------------------------

def test_aspawn_execs_path_with_argv_and_env_and_returns_the_pid():
    seen = []
    r, w = os.pipe()

    def on_exit(msg):
        seen.append(msg.status)
        aio.aexit("done")

    code = ("import os, sys; os.write(int(sys.argv[1]), repr((sys.orig_argv[0], sys.argv[1:], "
            "os.environ.get('AIO_X'), 'PATH' in os.environ)).encode()); sys.exit(len(sys.argv))")

    def start():
        os.set_inheritable(w, True)
        pid = aio.aspawn(PY, ["python-by-another-name", "-c", code, str(w), "b"],
                         env={"AIO_X": "x y"})
        seen.append(pid)
        os.close(w)
        aio.add_child_handler(on_exit, pid)

    status, errors = run_aio(start)
    with os.fdopen(r, "rb") as f:
        out = f.read()
    assert (status, errors) == ("done", [])
    assert out == repr(("python-by-another-name", [str(w), "b"], "x y", False)).encode()
    assert seen[1] == 3     # len(sys.argv): "-c", str(w), "b"


def test_aspawn_without_env_passes_this_process_environment(monkeypatch):
    monkeypatch.setenv("AIO_SPAWN_TEST", "inherited")
    seen = []

    def start():
        pid = spawn_python("import os, sys; sys.exit(os.environ['AIO_SPAWN_TEST'] == 'inherited')")
        aio.add_child_handler(lambda msg: (seen.append(msg.status), aio.aexit("done")), pid)

    status, errors = run_aio(start)
    assert (status, errors, seen) == ("done", [], [1])


def test_aspawn_runs_fn_in_the_child_before_exec():
    seen = []
    r, w = os.pipe()

    def in_child():
        os.write(w, f"{os.getpid()} {_life.running_scheduler()}".encode())

    def start():
        pid = aio.aspawn(PY, [PY, "-c", "import os; os._exit(0)"], fn=in_child)
        os.close(w)
        seen.append(pid)
        aio.add_child_handler(lambda msg: (seen.append(msg.status), aio.aexit("done")), pid)

    status, errors = run_aio(start)
    with os.fdopen(r, "rb") as f:
        out = f.read()
    assert (status, errors) == ("done", [])
    assert out == f"{seen[0]} None".encode()    # the child's pid, and aio idle there
    assert seen[1] == 0


@pytest.mark.parametrize("name, exc, err", [
    ("missing", FileNotFoundError, errno.ENOENT),
    ("plain", PermissionError, errno.EACCES),       # no execute permission
    ("garbage", OSError, errno.ENOEXEC),            # executable, no known format
    ("", PermissionError, errno.EACCES),            # a directory
])
def test_aspawn_exec_errors_reach_the_parent_as_oserror(tmp_path, name, exc, err):
    seen = []
    for f, mode in (("plain", 0o644), ("garbage", 0o755)):
        (tmp_path / f).write_bytes(b"\x00\x01\x02\x03")
        (tmp_path / f).chmod(mode)
    path = str(tmp_path / name)

    def start():
        before = open_fds()
        try:
            aio.aspawn(path, ["x"])
        except OSError as e:
            seen.append((type(e), e.errno, e.filename))
        seen.append(open_fds() == before)
        aio.aexit("done")

    status, errors = run_aio(start)
    assert (status, errors) == ("done", [])
    # Exactly that class; the child was reaped (aio_clean checks).
    assert seen == [(exc, err, path), True]


def test_aspawn_reports_an_oserror_of_fn_with_its_errno():
    def fn():
        raise OSError(errno.EPERM, "not allowed here")

    aio.ainit(1, 1)
    try:
        with pytest.raises(PermissionError, match="fn raised PermissionError") as info:
            spawn_python("pass", fn=fn)
        assert info.value.errno == errno.EPERM
    finally:
        aio.aexit(None)
        aio.amain()


def test_aspawn_reports_another_exception_of_fn_as_runtime_error():
    def fn():
        raise ValueError("bad setup")

    aio.ainit(1, 1)
    try:
        with pytest.raises(RuntimeError,
                           match=r"fn raised ValueError\('bad setup'\) in the child"):
            spawn_python("pass", fn=fn)
    finally:
        aio.aexit(None)
        aio.amain()


def test_aspawn_leaks_no_descriptor():
    aio.ainit(1, 1)
    try:
        before = open_fds()
        pids = [spawn_python("pass"), spawn_python("pass", fn=lambda: None)]
        with pytest.raises(FileNotFoundError):
            aio.aspawn("/nonexistent", ["x"])
        assert open_fds() == before
        assert [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids] == [0, 0]
    finally:
        aio.aexit(None)
        aio.amain()


@pytest.mark.parametrize("args, exc, words", [
    ((3, ["x"]), TypeError, "path"),
    (("", ["x"]), ValueError, "path"),
    (("/bin/x\0y", ["x"]), ValueError, "path"),
    ((PY, "python"), TypeError, "argv"),
    ((PY, b"python"), TypeError, "argv"),
    ((PY, None), TypeError, "argv"),
    ((PY, []), ValueError, "argv"),
    ((PY, ["x", 3]), TypeError, r"argv\[1\]"),
    ((PY, ["x\0"]), ValueError, r"argv\[0\]"),
    ((PY, ["x"], ["A=1"]), TypeError, "env"),
    ((PY, ["x"], {"A=B": "1"}), ValueError, "env"),
    ((PY, ["x"], {"": "1"}), ValueError, "env"),
    ((PY, ["x"], {"A": 1}), TypeError, "env"),
    ((PY, ["x"], None, "fn"), TypeError, "fn"),
])
def test_aspawn_validates_its_arguments(args, exc, words):
    with pytest.raises(exc, match=words):
        aio.aspawn(*args)


# --- asyncio style: the same cases on stock asyncio and aioloop ----------------

def test_a_child_exit_status_asyncio_style(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec(PY, "-c", "import sys; sys.exit(7)")
        return await proc.wait()

    assert loop.run_until_complete(asyncio.wait_for(main(), 30)) == 7


def test_a_bad_path_is_file_not_found_asyncio_style(loop):
    async def main():
        await asyncio.create_subprocess_exec("/nonexistent/aioloop-aspawn")

    with pytest.raises(FileNotFoundError) as info:
        loop.run_until_complete(asyncio.wait_for(main(), 30))
    assert info.value.errno == errno.ENOENT
