"""Scheduling: aio.sched(fn, *args, hint=) and aio.sched_io(fn, fd, op)
(libaio's sched(cb) and sched(cb, fd, op)), over the Scheduler's own
sched(): no second scheduler.

sched_io's state (the pending re-arm count and generation of the fd's
entry) is aio/_io.py's, under AioState.lock; see its thread contract.
"""

from . import _io
from ._state import check_callable, check_fd, check_hint, require_open, state

__all__ = ("sched", "sched_io")


def sched(fn, /, *args, hint=None):
    """Run fn(*args) as a new task on a dispatch thread: thread ``hint %
    threads`` if hint is given (pinned), else this dispatch thread's run
    queue (idle threads may steal it), or from a plain thread the least
    loaded one. Any thread, plain threads included, between ainit() and
    aexit(); before amain() the work waits for it. Returns a handle with
    cancel(). An exception from fn goes to that loop's exception handler."""
    check_callable("fn", fn)
    check_hint(hint)
    return require_open().sched(fn, *args, hint=hint)


def sched_io(fn, fd, op, *, hint=None):
    """libaio's sched(cb, fd, op): run fn(fd) as a new task, then re-arm fn
    as fd's one-shot `op` callback (aio.READ or aio.WRITE), as aio.read or
    aio.write would.

    fn runs on the loop of `hint` if given, else on fd's loop if fd is
    armed (or has a re-arm pending) already, else on this dispatch thread
    (from a plain thread: loop 0); so the re-arm is local and, issued from
    fd's own one-shot callback, keeps the fd's epoll registration: the
    cycle fire -> sched_io -> re-arm costs no epoll_ctl. The re-arm happens
    only if fn returns normally and no remove_read/remove_write of that
    side came in between (that is how to end the cycle, before closing
    fd). Returns the task's handle (cancel() also drops the re-arm)."""
    check_callable("fn", fn)
    check_fd(fd)
    i = _io.op_index(op)
    check_hint(hint)
    st = state()
    with st.lock:
        e = _io.entry_for(st, fd, hint)
        e.pending[i] += 1
        gen = e.gen[i]
        target = e.loop if hint is None else st.home_loop(hint)
    job = _RunThenRearm(st, e, fn, i, gen)
    try:
        job.handle = st.sched.sched(job, hint=target._aioloop_index)
    except BaseException:
        job.drop()
        raise
    return _SchedIoHandle(job)


class _RunThenRearm:
    __slots__ = ("st", "e", "fn", "i", "gen", "handle", "done", "__weakref__")

    def __init__(self, st, e, fn, i, gen):
        self.st = st
        self.e = e
        self.fn = fn
        self.i = i
        self.gen = gen
        self.handle = None
        self.done = False

    def __repr__(self):
        return f"<aio.sched_io {self.fn!r} fd={self.e.fd} op={_io._NAMES[self.i]}>"

    def _settle(self):
        # True if this job's re-arm is still wanted; counts it off either way.
        st, e, i = self.st, self.e, self.i
        with st.lock:
            if self.done:
                return False
            self.done = True
            live = st.fds.get(e.fd) is e and e.gen[i] == self.gen
            if live:
                e.pending[i] -= 1
        return live

    def drop(self):
        if self._settle():
            _io.sync(self.st, self.e)

    def __call__(self):
        ok = False
        try:
            self.fn(self.e.fd)
            ok = True
        finally:
            live = self._settle()
            if live and ok:
                _io.arm(self.st, self.e.fd, self.fn, self.i)
            elif live:
                _io.sync(self.st, self.e)


class _SchedIoHandle:
    """What sched_io returns: cancel() drops the task and its re-arm."""

    __slots__ = ("_job",)

    def __init__(self, job):
        self._job = job

    def cancel(self):
        self._job.handle.cancel()
        self._job.drop()

    def cancelled(self):
        return self._job.handle.cancelled()

    def __repr__(self):
        return f"<aio.sched_io handle {self._job!r}>"
