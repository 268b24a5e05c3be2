"""Signals and processes of the callback-style API: sig_install,
add_child_handler, remove_child_handler, afork, aspawn.

Where the work happens
    Signal and child handlers live on dispatch loop 0 of aio's Scheduler.
    Python runs signal handlers only in the main thread, and loop 0 runs in
    the thread that calls amain() (the main thread, for signals to work);
    the Scheduler makes loop 0 the process's signal wakeup fd, so a signal
    the kernel hands to any thread wakes it. A child is watched through its
    pidfd on loop 0's poller (no SIGCHLD handler: a pidfd names one process
    and concerns nobody else's children). Each registration runs on loop 0:
    called from another thread, it is posted to loop 0's inbox and the
    caller waits for its outcome; before amain() starts, nobody runs loop 0
    and the caller registers directly, holding the aio life-cycle lock so
    that amain() cannot start meanwhile. When a signal arrives or a child
    exits, loop 0 only schedules the handler: it runs as a new task on the
    Scheduler (any dispatch thread), in a copy of the context that was
    current when it was installed. A handler that raises goes to its
    loop's exception handler, like any scheduled callable.

Kernel facts
    - pidfd_open(pid) gives a descriptor that becomes readable when that
      process has exited and still names it after its pid is reused. An
      exited child keeps its pid until it is reaped, so wait4(pid) after
      the pidfd fires reaps exactly that child, and gives its rusage (which
      waitid does not).
    - waitid(P_PID, pid, WEXITED | WNOHANG | WNOWAIT) fails with ECHILD for
      a process that is not our unreaped child, and reaps nothing: that is
      add_child_handler's check.
    - exec(2) closes close-on-exec descriptors only when it succeeds: a
      child that writes to such a pipe before exec (or when exec fails)
      tells the parent why; the parent reading EOF knows exec succeeded.

Who reaps
    A child with a handler is reaped by loop 0 when it exits; its handler
    gets the Waitmsg. remove_child_handler() hands the child back: nothing
    reaps it then (os.waitpid() it yourself). Handlers still installed when
    aio exits are dropped with a report to loop 0's exception handler, their
    pidfds closed, and those children are not reaped either. aspawn() reaps
    a child whose exec failed before raising; otherwise it returns the pid,
    to be given to add_child_handler() or waited for.

Thread contract
    _states_lock guards _states (Scheduler -> _ProcState), read and written
    by any thread that calls a function of this module. Each _ProcState's
    lock guards its signals, children, closed and guard fields; they are
    written only on loop 0's thread, or by the thread that registers before
    amain() starts (under the life-cycle lock, while no thread runs loop
    0), and read there too. A _ChildWatch is owned by loop 0's thread. The
    after-fork hook runs in the only thread of a new child; it resets this
    module's state and the life cycle's (aio/_life.py's globals and lock).
    _life._lock is also taken here, around the few statements that decide
    between registering directly and posting to loop 0.
"""

import concurrent.futures as _futures
import contextvars as _contextvars
import errno as _errno
import inspect as _inspect
import logging as _logging
import os as _os
import resource as _resource
import signal as _signal
import subprocess as _subprocess
import threading as _threading
import weakref as _weakref
from asyncio import events as _events
from collections.abc import Mapping as _Mapping
from typing import NamedTuple as _NamedTuple

import _posixsubprocess

from . import _life

__all__ = ("Waitmsg", "sig_install", "add_child_handler",
           "remove_child_handler", "afork", "aspawn")

_logger = _logging.getLogger("aioloop")
_get_running_loop = _events._get_running_loop
_UNCATCHABLE = (_signal.SIGKILL, _signal.SIGSTOP)


class Waitmsg(_NamedTuple):
    """How a child ended, given to its child handler.

    ``status`` is its exit status if it exited (else None); ``signal`` the
    number of the signal that killed it (else None); ``rusage`` its
    resource usage (``resource.struct_rusage``). If someone else reaped the
    child first (a waitpid(-1) elsewhere, SIGCHLD set to SIG_IGN), nothing
    is known: status, signal and rusage are all None (and a warning is
    logged)."""
    pid: int
    status: "int | None"
    signal: "int | None"
    rusage: "_resource.struct_rusage | None"


# --- per-Scheduler state ------------------------------------------------------

class _ChildWatch:
    __slots__ = ("pid", "pidfd", "fn", "ctx")

    def __init__(self, pid, pidfd, fn, ctx):
        self.pid = pid
        self.pidfd = pidfd
        self.fn = fn
        self.ctx = ctx


class _ProcState:
    """The signal and child handlers of one Scheduler (see the module's
    thread contract)."""
    __slots__ = ("lock", "signals", "children", "closed", "guard", "__weakref__")

    def __init__(self):
        self.lock = _threading.Lock()
        self.signals = {}       # signal number -> (fn, context)
        self.children = {}      # pid -> _ChildWatch
        self.closed = False     # child watches torn down: aio is exiting
        self.guard = None       # loop 0 task whose cancellation tears them down


_states_lock = _threading.Lock()
_states = _weakref.WeakKeyDictionary()


def _state_of(sched):
    with _states_lock:
        st = _states.get(sched)
        if st is None:
            st = _states[sched] = _ProcState()
        return st


def _after_fork_in_child():
    # The only thread of a new process: the parent's Scheduler is unusable
    # here (it refuses work), so aio starts idle and the child can ainit()
    # its own. Locks are replaced: another thread may have held them at
    # fork(). The pidfds are this process's copies of the parent's watches.
    # The signals of the parent's aio handlers get their default disposition
    # back: caught by the loop's no-op handler, with no loop to read the
    # wakeup fd, they would be ignored (a SIGTERM would not end the child).
    # Only the aio Scheduler of the moment counts: the state of one whose
    # amain() returned (still referenced somewhere) was torn down already,
    # and its signals belong to whoever set them since.
    global _states_lock, _states
    current = _life._sched
    st = _states.get(current) if current is not None else None
    _life._lock = _threading.Lock()
    _life._state = "idle"
    _life._sched = None
    _life._status = None
    _life._exit_requested = False
    _life._exit_future = None
    if st is not None and not st.closed:
        for w in st.children.values():
            try:
                _os.close(w.pidfd)
            except OSError:
                pass
        for sig in st.signals:
            try:
                _signal.signal(sig, _signal.default_int_handler
                               if sig == _signal.SIGINT else _signal.SIG_DFL)
            except (OSError, ValueError):
                pass
    _states_lock = _threading.Lock()
    _states = _weakref.WeakKeyDictionary()


_os.register_at_fork(after_in_child=_after_fork_in_child)


# --- running on loop 0 ----------------------------------------------------------

def _exited(name):
    return RuntimeError(f"{name}(): aioloop.aio has exited (amain() returned)")


def _on_loop0(name, sched, fn, *args):
    """fn(*args) on loop 0's thread; its result or exception. From another
    thread while amain() runs, posted to loop 0 and waited for."""
    loop0 = sched.loops[0]
    if _get_running_loop() is loop0:
        return fn(*args)
    with _life._lock:
        if _life._sched is not sched:
            raise _exited(name)
        if _life._state == "configured":
            # amain() has not started, and cannot while this lock is held:
            # no thread runs loop 0. fn never calls user code.
            return fn(*args)
    done = _futures.Future()

    def call():
        if not done.set_running_or_notify_cancel():
            return
        try:
            result = fn(*args)
        except BaseException as exc:
            done.set_exception(exc)
        else:
            done.set_result(result)

    try:
        loop0.call_soon_threadsafe(call)
    except RuntimeError:        # loop 0 is closed
        raise _exited(name) from None
    while not done.done():
        _futures.wait((done,), timeout=0.05)
        # Loop 0 stopped for good before running it: amain() is returning.
        if not done.done() and (loop0.is_closed()
                                or _life.running_scheduler() is not sched):
            if done.cancel():
                raise _exited(name)
    return done.result()


def _check_fn(name, fn, allow_none=False):
    if fn is None and allow_none:
        return
    if not callable(fn):
        raise TypeError(f"{name}() needs a callable fn"
                        f"{' or None' if allow_none else ''}, got {fn!r}")
    if _inspect.iscoroutinefunction(fn):
        raise TypeError(f"{name}(): fn must be a plain callable, not a "
                        f"coroutine function ({fn!r}); spawn the coroutine "
                        "from a plain function")


def _report(sched, message, exc=None):
    ctx = {"message": message}
    if exc is not None:
        ctx["exception"] = exc
    sched.loops[0].call_exception_handler(ctx)


# --- signals ---------------------------------------------------------------------

def _check_signal(sig):
    if isinstance(sig, bool) or not isinstance(sig, int):
        raise TypeError(f"sig must be a signal number (int), got {type(sig).__name__}")
    if sig not in _signal.valid_signals():
        raise ValueError(f"sig: {sig} is not a valid signal number")
    if sig in _UNCATCHABLE:
        raise ValueError(f"sig: {_signal.Signals(sig).name} cannot be caught")
    return int(sig)


def sig_install(fn, sig):
    """Install fn as the handler of signal ``sig``; return the handler it
    replaces (the previous ``sig_install`` one, or None).

    Each time the signal arrives, ``fn(sig)`` runs as a new task on the
    scheduler (any dispatch thread), in a copy of the context current at
    this call. ``fn=None`` removes the handler and restores the signal's
    default disposition (for SIGINT Python's default_int_handler, as
    asyncio's remove_signal_handler does); with no handler installed it
    does nothing. Several signals of one kind that arrive before the first
    is handled may run fn once (standard signals do not queue).

    Callable from any thread while amain() runs in the main thread, or from
    the main thread before amain(). TypeError/ValueError for a bad fn or
    sig (SIGKILL and SIGSTOP cannot be caught); RuntimeError before ainit(),
    after amain() returned, or when the handler cannot reach the main
    thread. Handlers are removed when aio exits."""
    _check_fn("sig_install", fn, allow_none=True)
    sig = _check_signal(sig)
    sched = _life.require_open("sig_install")
    ctx = _contextvars.copy_context() if fn is not None else None
    return _on_loop0("sig_install", sched, _sig_install, sched, _state_of(sched),
                     fn, sig, ctx)


def _sig_install(sched, st, fn, sig, ctx):
    loop0 = sched.loops[0]
    if _threading.current_thread() is not _threading.main_thread():
        raise RuntimeError(
            "sig_install() needs the main thread, where Python runs signal "
            "handlers: run amain() in the main thread and call sig_install() "
            "from any thread, or call it from the main thread before amain()")
    with st.lock:
        prev = st.signals.get(sig)
    if fn is None:
        if prev is not None:
            loop0.remove_signal_handler(sig)
            with st.lock:
                del st.signals[sig]
    else:
        # Every time, not only the first: someone may have removed the
        # loop's handler since (loop.remove_signal_handler).
        loop0.add_signal_handler(sig, _deliver_signal, sched, st, sig)
        with st.lock:
            st.signals[sig] = (fn, ctx)
    return None if prev is None else prev[0]


def _deliver_signal(sched, st, sig):
    # On loop 0, once per signal byte read from the wakeup fd.
    with st.lock:
        entry = st.signals.get(sig)
    if entry is None:
        return
    fn, ctx = entry
    try:
        sched.sched(fn, sig, context=ctx.copy())
    except RuntimeError as exc:
        _report(sched, f"aioloop.aio: signal {sig} arrived while aio exits: "
                f"its handler {fn!r} was not run", exc)


# --- child handlers ------------------------------------------------------------

def _check_pid(pid):
    if isinstance(pid, bool) or not isinstance(pid, int):
        raise TypeError(f"pid must be an int, got {type(pid).__name__}")
    if not 0 < pid <= 0x7fffffff:
        raise ValueError(f"pid must be > 0 (one process) and fit a pid_t, got {pid}")


def _not_our_child(pid):
    return ChildProcessError(_errno.ECHILD, f"pid {pid} is not an unreaped "
                             "child of this process")


def add_child_handler(fn, pid):
    """Run ``fn(waitmsg)`` as a new task when child process ``pid`` exits;
    the child is reaped then and ``waitmsg`` is a Waitmsg (pid, exit
    status or killing signal, rusage). Returns the handler this one
    replaces for that pid, or None.

    The child is watched through a pidfd on loop 0 (no SIGCHLD handler); a
    child that has exited already is reported at once. Callable from any
    thread after ainit(). TypeError/ValueError for a bad fn or pid;
    ChildProcessError (ECHILD) if pid is not an unreaped child of this
    process; RuntimeError before ainit(), after amain() returned or while
    aio exits."""
    _check_fn("add_child_handler", fn)
    _check_pid(pid)
    sched = _life.require_open("add_child_handler")
    return _on_loop0("add_child_handler", sched, _add_child, sched,
                     _state_of(sched), fn, pid, _contextvars.copy_context())


def _add_child(sched, st, fn, pid, ctx):
    loop0 = sched.loops[0]
    with st.lock:
        if st.closed:
            raise RuntimeError("add_child_handler(): aioloop.aio is exiting")
        w = st.children.get(pid)
        if w is not None:
            prev, w.fn, w.ctx = w.fn, fn, ctx
            return prev
    try:
        _os.waitid(_os.P_PID, pid, _os.WEXITED | _os.WNOHANG | _os.WNOWAIT)
        pidfd = _os.pidfd_open(pid)
    except (ChildProcessError, ProcessLookupError):
        raise _not_our_child(pid) from None
    try:
        loop0.add_reader(pidfd, _child_exited, sched, st, pid)
        if st.guard is None:
            st.guard = loop0.create_task(_guard_children(sched, st),
                                         name="aioloop.aio child handlers")
    except BaseException:
        loop0.remove_reader(pidfd)
        _os.close(pidfd)
        raise
    with st.lock:
        st.children[pid] = _ChildWatch(pid, pidfd, fn, ctx)
    return None


def _waitmsg(pid, wstatus, rusage):
    if _os.WIFEXITED(wstatus):
        return Waitmsg(pid, _os.WEXITSTATUS(wstatus), None, rusage)
    return Waitmsg(pid, None, _os.WTERMSIG(wstatus), rusage)


def _child_exited(sched, st, pid):
    # On loop 0: the child's pidfd is readable, so it has exited.
    with st.lock:
        w = st.children.get(pid)
    if w is None:
        return
    try:
        wpid, wstatus, rusage = _os.wait4(pid, _os.WNOHANG)
    except ChildProcessError:
        _logger.warning("aioloop.aio: child %d was reaped by someone else: "
                        "its exit status is unknown", pid)
        msg = Waitmsg(pid, None, None, None)
    else:
        if wpid == 0:
            return          # not exited after all: keep watching
        msg = _waitmsg(pid, wstatus, rusage)
    _unwatch(sched, st, w)
    try:
        sched.sched(w.fn, msg, context=w.ctx.copy())
    except RuntimeError as exc:
        _report(sched, f"aioloop.aio: child {pid} exited ({msg}) while aio "
                f"exits: its handler {w.fn!r} was not run", exc)


def _unwatch(sched, st, w):
    with st.lock:
        del st.children[w.pid]
    loop0 = sched.loops[0]
    try:
        if not loop0.is_closed():
            loop0.remove_reader(w.pidfd)
    finally:
        _os.close(w.pidfd)


async def _guard_children(sched, st):
    # Lives on loop 0 while child handlers exist. aio's exit cancels every
    # task of loop 0 (asyncio.Runner, then the Scheduler's drain), which is
    # the moment to close the pidfds: loop 0 still runs, so its poller can
    # still be told, and no handler can be delivered any more.
    loop0 = sched.loops[0]
    try:
        await loop0.create_future()
    finally:
        with st.lock:
            st.closed = True
            dropped = list(st.children.values())
        for w in dropped:
            _unwatch(sched, st, w)
        if dropped:
            pids = ", ".join(str(w.pid) for w in dropped)
            _report(sched, "aioloop.aio exits while child handlers are "
                    f"installed: handlers of pids {pids} dropped, the children "
                    "are not reaped")


def remove_child_handler(pid):
    """Remove the handler of child ``pid``; return it, or None if it had
    none (or it ran already). The child is not reaped afterwards: wait for
    it yourself. Callable from any thread after ainit(); TypeError/
    ValueError for a bad pid; RuntimeError before ainit() or after amain()
    returned."""
    _check_pid(pid)
    sched = _life.require_open("remove_child_handler")
    return _on_loop0("remove_child_handler", sched, _remove_child, sched,
                     _state_of(sched), pid)


def _remove_child(sched, st, pid):
    with st.lock:
        w = st.children.get(pid)
    if w is None:
        return None
    _unwatch(sched, st, w)
    return w.fn


# --- afork, aspawn ---------------------------------------------------------------

def afork():
    """fork(2) while the scheduler keeps running: returns the child's pid in
    the parent, 0 in the child.

    The child is a copy of the calling thread only. It starts with aio idle:
    the parent's Scheduler refuses work there (RuntimeError), the signals
    of the parent's sig_install handlers have their default disposition
    again, and the child may ainit()/amain()/aexit() its own. A child forked inside a task is
    still inside that task's call stack: end it with os._exit(), never by
    returning into the parent's scheduler. As with any fork of a
    multi-threaded process, the child must not rely on locks other threads
    may have held (Python 3.12+ warns with a DeprecationWarning). Reap the
    child with add_child_handler() or os.waitpid(). RuntimeError before
    ainit(), after aexit() or after amain() returned."""
    _life.require_open("afork")
    return _os.fork()


def _fsencode(name, value):
    if not isinstance(value, (str, bytes, _os.PathLike)):
        raise TypeError(f"{name} must be str, bytes or os.PathLike, got "
                        f"{type(value).__name__}")
    value = _os.fsencode(value)
    if b"\0" in value:
        raise ValueError(f"{name} must not contain a NUL byte")
    return value


def _check_spawn_args(path, argv, env, fn):
    path_b = _fsencode("path", path)
    if not path_b:
        raise ValueError("path must not be empty")
    if isinstance(argv, (str, bytes)) or not isinstance(argv, (list, tuple)):
        raise TypeError(f"argv must be a list or tuple of str/bytes, got "
                        f"{type(argv).__name__}")
    if not argv:
        raise ValueError("argv must not be empty (argv[0] names the program)")
    argv_b = [_fsencode(f"argv[{i}]", a) for i, a in enumerate(argv)]
    env_b = None
    if env is not None:
        if not isinstance(env, _Mapping):
            raise TypeError(f"env must be a mapping or None, got {type(env).__name__}")
        env_b = []
        for k, v in env.items():
            kb = _fsencode("env key", k)
            if not kb or b"=" in kb:
                raise ValueError(f"env: illegal variable name {k!r}")
            env_b.append(kb + b"=" + _fsencode(f"env[{k!r}]", v))
    _check_fn("aspawn", fn, allow_none=True)
    return path_b, argv_b, env_b


_FN_FAILED = b"aioloop-aspawn-fn\0"


def _run_in_child(fn, errpipe):
    # In the child, between fork and exec: report fn's exception through
    # the close-on-exec pipe, then let _posixsubprocess end the child.
    try:
        fn()
    except BaseException as exc:
        err = exc.errno if isinstance(exc, OSError) and exc.errno else 0
        what = f"{type(exc).__qualname__}:{err:x}:{exc}"
        _os.write(errpipe, _FN_FAILED + what.encode(errors="backslashreplace")[:4096]
                  + b"\0")
        raise


def aspawn(path, argv, env=None, fn=None):
    """fork and exec program ``path`` with arguments ``argv`` (argv[0]
    included) and environment ``env`` (a mapping; None: this process's);
    return the child's pid once exec succeeded.

    ``path`` is used as given (no PATH search). ``fn()``, if given, runs in
    the child before exec. If exec fails, the child is reaped and the
    parent gets OSError with the child's errno (FileNotFoundError for a
    missing path, PermissionError for one that cannot be executed); if fn
    raises, the parent gets OSError with its errno if it was an OSError,
    else RuntimeError naming it. The child inherits the inheritable
    descriptors (those of os.set_inheritable, stdio), not aioloop's own.

    Without fn, the child runs no Python code (the standard library's
    _posixsubprocess forks, or vforks, and execs in C), so it is safe in a
    multi-threaded process. fn runs in a fork of a multi-threaded process:
    keep it to simple system calls (os.setpgid, os.dup2, os.chdir...), as
    for subprocess's preexec_fn. The call blocks until exec happened (or
    failed). Reap the child with add_child_handler() or os.waitpid().
    TypeError/ValueError for bad arguments; RuntimeError before ainit() or
    after amain() returned."""
    path_b, argv_b, env_b = _check_spawn_args(path, argv, env, fn)
    _life.require_open("aspawn")
    errpipe_read, errpipe_write = _os.pipe2(_os.O_CLOEXEC)
    try:
        try:
            preexec = (None if fn is None
                       else (lambda: _run_in_child(fn, errpipe_write)))
            # The signature of Python 3.11-3.13, as subprocess.Popen calls it.
            pid = _posixsubprocess.fork_exec(
                argv_b, (path_b,), False, (), None, env_b,
                -1, -1, -1, -1, -1, -1,             # no stdio redirection
                errpipe_read, errpipe_write,
                True, False, -1,                    # restore_signals, setsid, pgid
                None, None, None, -1,               # gid, groups, uid, umask
                preexec, getattr(_subprocess, "_USE_VFORK", True))
        finally:
            _os.close(errpipe_write)
        data = bytearray()
        while True:
            part = _os.read(errpipe_read, 50000)
            data += part
            if not part or len(data) > 50000:
                break
    finally:
        _os.close(errpipe_read)
    if not data:
        return pid
    try:
        _os.waitpid(pid, 0)
    except ChildProcessError:
        pass        # reaped by a stranger's waitpid(-1)
    raise _spawn_error(bytes(data), path)


def _spawn_error(data, path):
    if data.startswith(_FN_FAILED):
        what = data[len(_FN_FAILED):].split(b"\0", 1)[0].decode(errors="replace")
        typename, _, rest = what.partition(":")
        hex_errno, _, message = rest.partition(":")
        err = int(hex_errno or "0", 16)
        text = f"aspawn(): fn raised {typename}({message!r}) in the child before exec"
        if err:
            return OSError(err, text)
        return RuntimeError(text)
    # _posixsubprocess's report: "ExceptionName:hex errno:message".
    try:
        name, hex_errno, message = data.split(b":", 2)
        err = int(hex_errno, 16)
    except ValueError:
        return RuntimeError(f"aspawn(): the child failed before exec: {data!r}")
    if name == b"OSError" and err:
        if message == b"noexec":
            return OSError(err, _os.strerror(err))
        return OSError(err, _os.strerror(err), path)
    return RuntimeError("aspawn(): the child failed before exec: "
                        f"{message.decode(errors='replace')}")
