"""One-shot I/O callbacks: read, write, remove_read, remove_write, mk_async,
close_on_exec (libaio 4.5.3), and the re-arm half of sched_io.

How a one-shot callback maps onto the loop
    Each fd armed through aio belongs to one dispatch loop (its entry's
    ``loop``) and has one entry in the process-wide table ``AioState.fds``:
    the armed callback per direction (``fn``), the pass of that loop in
    which it was armed (``armed``), the sched_io re-arms on their way
    (``pending``) and a generation that remove_read/remove_write bump
    (``gen``). On the loop, the fd's reader (writer) is a dispatcher,
    ``_on_ready``, installed while something is armed. When the fd is
    ready the dispatcher takes the armed callback out of the table (it is
    de-registered: one-shot) and runs fn(fd) there and then, as its own
    callback in that loop's ready queue, where asyncio runs a reader.

Why a fire and a re-arm cost no epoll_ctl
    The epoll registration is level-triggered and persistent (see
    kernel/poller.pyx), and the dispatcher stays installed while fn runs.
    If fn re-arms the fd (aio.read(fn, fd) from fn itself), or has handed
    it to sched_io, the registration is kept: no epoll_ctl for the fire,
    none for the re-arm (EPOLLONESHOT would cost a MOD per re-arm). A kept
    registration is checked with one fstat(): the kernel drops an fd's
    registration when its file is closed, and fn may have closed the fd and
    got the same number for a new file; if (st_dev, st_ino) changed, the
    registration is renewed, and a closed fd gives EBADF at the re-arm.
    If fn does not re-arm, the loop's callback is removed lazily: the
    registration stays until an event finds nothing armed (one epoll_ctl
    then), and a later re-arm renews it (one MOD; the loop's fd table does
    not trust an int fd's lazy registration, and its slot must be free for
    a transport that may get the number).
    An event polled in the pass in which its callback was armed may predate
    the arm (level-triggered: fn may already have consumed the data); it is
    left for the next poll, which reports it again if it still holds. So a
    callback never sees readiness older than its arm.

Placement
    aio.read/aio.write from a dispatch thread arm the fd on that thread's
    loop; from a plain thread on the loop of ``hint`` (``hint % threads``)
    if given, else loop 0. An fd that already has an entry stays on its
    loop: a re-arm from anywhere goes there (through its inbox from another
    thread), so the fd is never in two epoll sets at once while something
    is armed or pending for it: a re-arm from fn, or by the task sched_io
    runs, stays local. The entry goes when nothing is armed or pending any
    more (after a fire that was not re-armed, say); the next arm places the
    fd afresh, and if that is on another loop, the old loop drops its lazy
    registration at the fd's next event there (one wake-up, one epoll_ctl).
    Keeping every fd number on the loop that first armed it would instead
    pin a reused number (the next accepted connection) to a loop forever.

Thread contract
    Every field of an FdEntry but ``installed`` and ``identity`` is
    guarded by ``AioState.lock`` (any thread reads and writes it);
    ``installed``, ``identity`` and the loop's reader/writer are touched
    only by the entry loop's thread (``_reconcile``). A change made from another thread is applied there
    by a posted ``_reconcile``, so the last one to run sees the final state.
"""

import os as _os

from ._state import (check_callable, check_fd, check_hint, post, state)

__all__ = ("READ", "WRITE", "read", "write", "remove_read", "remove_write",
           "mk_async", "close_on_exec")

READ = 1
WRITE = 2
_OPS = {READ: 0, WRITE: 1}
_NAMES = ("read", "write")


class FdEntry:
    __slots__ = ("fd", "loop", "fn", "armed", "pending", "gen", "verify",
                 "installed", "identity")

    def __init__(self, fd, loop):
        self.fd = fd
        self.loop = loop
        self.fn = [None, None]          # the armed callback, by direction
        self.armed = [None, None]       # loop pass of the arm; None: not yet
                                        # seen by the loop's thread
        self.pending = [0, 0]           # sched_io re-arms on their way
        self.gen = [0, 0]               # bumped by remove_read/remove_write
        self.verify = False             # re-armed: check the fd's identity
        # The loop's thread only: whether its reader/writer is installed,
        # and the (st_dev, st_ino) of the file fd named when it was.
        self.installed = [False, False]
        self.identity = None

    def idle(self):
        return (self.fn[0] is None and self.fn[1] is None
                and not self.pending[0] and not self.pending[1])

    def __repr__(self):
        return (f"<aio fd {self.fd} read={self.fn[0]!r} write={self.fn[1]!r} "
                f"on loop {getattr(self.loop, '_aioloop_index', '?')}>")


def op_index(op):
    if isinstance(op, bool) or not isinstance(op, int):
        raise TypeError(f"op must be aio.READ or aio.WRITE, got {type(op).__name__}")
    try:
        return _OPS[op]
    except KeyError:
        raise ValueError(f"op must be aio.READ ({READ}) or aio.WRITE ({WRITE}), "
                         f"got {op}") from None


def entry_for(st, fd, hint):
    """fd's entry, made on the home loop if it has none. Under st.lock."""
    e = st.fds.get(fd)
    if e is None:
        e = FdEntry(fd, st.home_loop(hint))
        st.fds[fd] = e
    return e


# --- the loop side (the entry loop's thread) ------------------------------------

def _identity(fd):
    # Which file fd names now (OSError EBADF if none): a registration kept
    # across a re-arm is trusted only while the number names the same file.
    st = _os.fstat(fd)
    return st.st_dev, st.st_ino


def _reconcile(st, e, drop_unarmed=False):
    """Make e.loop's reader/writer follow the table: installed while a
    callback is armed or a sched_io re-arm is pending (not counted with
    `drop_unarmed`: an event found nothing armed, and keeping a ready fd
    registered would make every pass poll it again)."""
    loop = e.loop
    want = [False, False]
    with st.lock:
        for i in (0, 1):
            armed = e.fn[i] is not None
            if armed and e.armed[i] is None:
                e.armed[i] = loop._n_passes
            want[i] = armed or (e.pending[i] > 0 and not drop_unarmed)
        verify, e.verify = e.verify, False
    if verify and (want[0] or want[1]) and (e.installed[0] or e.installed[1]):
        # A re-arm that keeps the registration. If the fd was closed since
        # it was registered (by the very callback that re-arms it, say) and
        # its number now names another file, the kernel has dropped that
        # registration: renew it. Closed and not reused: EBADF here.
        if _identity(e.fd) != e.identity:
            for i in (0, 1):
                if e.installed[i]:
                    e.installed[i] = False
                    loop._remove_fd_callback_lazily(e.fd, i == 0)
    for i in (0, 1):
        if want[i] and not e.installed[i]:
            identity = _identity(e.fd)
            if i == 0:
                loop.add_reader(e.fd, _on_ready, st, e, 0)
            else:
                loop.add_writer(e.fd, _on_ready, st, e, 1)
            e.installed[i] = True
            e.identity = identity
        elif not want[i] and e.installed[i]:
            e.installed[i] = False
            loop._remove_fd_callback_lazily(e.fd, i == 0)
    with st.lock:
        if (e.idle() and not e.installed[0] and not e.installed[1]
                and st.fds.get(e.fd) is e):
            del st.fds[e.fd]


def _reconcile_posted(st, e):
    # From another thread's arm or removal. Its caller has returned: a
    # failure (EBADF, EPERM, a transport owns the fd) disarms the fd and
    # goes to the loop's exception handler.
    try:
        _reconcile(st, e)
    except Exception as exc:
        failed = []
        with st.lock:
            for i in (0, 1):
                if e.fn[i] is not None and not e.installed[i]:
                    failed.append((i, e.fn[i]))
                    e.fn[i] = None
                    e.armed[i] = None
        try:
            _reconcile(st, e)
        except Exception:
            pass        # the same failure: nothing is installed
        for i, fn in failed:
            e.loop.call_exception_handler({
                "message": f"aio.{_NAMES[i]}({fn!r}, {e.fd}) from another "
                           "thread failed: the callback is not armed",
                "exception": exc,
            })
        if not failed:
            raise


def sync(st, e):
    """Apply a change of e to its loop, from any thread."""
    try:
        post(e.loop, _reconcile_posted, st, e)
    except RuntimeError:
        pass    # the loop is closed: its registrations went with its epoll


def _on_ready(st, e, i):
    # The fd's reader (i == 0) or writer on its loop: the one-shot fires.
    loop = e.loop
    with st.lock:
        fn = e.fn[i]
        if fn is not None:
            armed = e.armed[i]
            if armed is None or armed >= loop._n_passes:
                # Armed after this pass polled: the event may be older than
                # the arm. Level-triggered, the next poll reports it again.
                return
            e.fn[i] = None
            e.armed[i] = None
    if fn is None:
        _reconcile(st, e, drop_unarmed=True)
        return
    try:
        fn(e.fd)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        loop.call_exception_handler({
            "message": f"Exception in aio {_NAMES[i]} callback {fn!r} for "
                       f"fd {e.fd}",
            "exception": exc,
        })
    finally:
        # Re-armed by fn (or a sched_io re-arm pending): the registration
        # is kept; else the loop's callback goes, lazily.
        _reconcile(st, e)


# --- arming and removing (any thread) ------------------------------------------

def arm(st, fd, fn, i, hint=None):
    """Make fn the one-shot callback of fd (direction i); returns the one
    it replaced, or None."""
    cur = st.current_loop()
    with st.lock:
        e = entry_for(st, fd, hint)
        old = e.fn[i]
        e.fn[i] = fn
        e.verify = True
        local = cur is e.loop
        e.armed[i] = e.loop._n_passes if local else None
    if not local:
        try:
            post(e.loop, _reconcile_posted, st, e)
        except RuntimeError:
            _disarm(st, e, i, fn, old)
            raise
        return old
    try:
        _reconcile(st, e)
    except BaseException:
        # Not armed (EBADF, EPERM for a regular file, a transport's fd):
        # the caller gets the error and the table what it had.
        _disarm(st, e, i, fn, old)
        _reconcile(st, e)
        raise
    return old


def _disarm(st, e, i, fn, old):
    with st.lock:
        if e.fn[i] is fn:
            e.fn[i] = old
        if e.idle() and not e.installed[0] and not e.installed[1] \
                and st.fds.get(e.fd) is e:
            del st.fds[e.fd]


def disarm(st, fd, i):
    """Remove fd's callback (direction i) and cancel a pending sched_io
    re-arm; returns the callback, or None."""
    with st.lock:
        e = st.fds.get(fd)
        if e is None:
            return None
        old = e.fn[i]
        e.fn[i] = None
        e.armed[i] = None
        if e.pending[i]:
            e.pending[i] = 0
            e.gen[i] += 1
    sync(st, e)
    return old


# --- public names --------------------------------------------------------------

def read(fn, fd, *, hint=None):
    """Install fn as fd's one-shot read callback: when fd is readable, fn(fd)
    runs once, on fd's loop, and the callback is de-registered (re-arm it
    from fn to go on; that costs no epoll_ctl). Returns the read callback it
    replaced, or None.

    The fd is armed on this dispatch thread's loop; from a plain thread, on
    the loop of `hint` if given, else loop 0; an fd already armed (or with a
    sched_io re-arm pending) stays on its loop. Any thread, between ainit()
    and aexit(). From fd's own loop, a kernel refusal raises here (OSError:
    EBADF for a closed fd, EPERM for a regular file; RuntimeError if a
    transport owns fd); from another thread it reaches that loop's
    exception handler and the callback is not armed. An exception from fn
    goes to the loop's exception handler."""
    check_callable("fn", fn)
    check_fd(fd)
    check_hint(hint)
    return arm(state(), fd, fn, 0, hint)


def write(fn, fd, *, hint=None):
    """Install fn as fd's one-shot write callback; as read()."""
    check_callable("fn", fn)
    check_fd(fd)
    check_hint(hint)
    return arm(state(), fd, fn, 1, hint)


def remove_read(fd):
    """Remove fd's read callback (and cancel a sched_io re-arm of its read
    side that has not happened yet); returns the callback, or None. Any
    thread: the fd's own loop stops watching it at its next pass."""
    check_fd(fd)
    return disarm(state(), fd, 0)


def remove_write(fd):
    """Remove fd's write callback; as remove_read()."""
    check_fd(fd)
    return disarm(state(), fd, 1)


def mk_async(fd):
    """Make fd non-blocking (O_NONBLOCK), as libaio's mkAsync. OSError (with
    its errno) if the kernel refuses."""
    check_fd(fd)
    state()
    _os.set_blocking(fd, False)


def close_on_exec(fd, on=True):
    """Set (or with on=False clear) fd's close-on-exec flag. OSError (with
    its errno) if the kernel refuses."""
    check_fd(fd)
    if not isinstance(on, bool):
        raise TypeError(f"on must be a bool, got {type(on).__name__}")
    state()
    _os.set_inheritable(fd, not on)
