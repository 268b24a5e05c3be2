# Signal handlers: add_signal_handler() and remove_signal_handler() with
# asyncio's semantics and errors (unix_events._UnixSelectorEventLoop),
# delivered through the loop's own poller.
#
# How a signal reaches a handler, and why this way:
# - CPython's C-level signal handler only sets a flag and, if a wakeup fd is
#   set (signal.set_wakeup_fd), writes the signal number to it as ONE BYTE.
#   The Python-level handler runs later, in the main thread, between
#   bytecodes. We install a no-op Python-level handler, as asyncio does, so
#   that the signal is caught instead of killing the process, and make the
#   write end of a socketpair the wakeup fd. The read end is registered on
#   the loop's epoll like any transport.
# - A signal that arrives while the loop sleeps wakes it (epoll_wait returns
#   EINTR, and the socket becomes readable). One that arrives while the loop
#   is not running waits in the socket and is delivered when it next runs.
#   Each byte read is one signal number, in arrival order; its Handle joins
#   the ready queue (it runs on the next pass, in the context captured by
#   add_signal_handler), exactly where asyncio's self-pipe reader puts it.
# - The loop's eventfd waker cannot be the wakeup fd: a write to an eventfd
#   must be 8 bytes (the one-byte write fails with EINVAL), and the signal
#   number would be lost anyway.
# - set_wakeup_fd() works only in the main thread (hence RuntimeError from
#   add_signal_handler elsewhere, as asyncio) and needs a non-blocking fd: a
#   full socket loses bytes (with a warning) rather than block in a handler.
# - SIGKILL and SIGSTOP cannot be caught: sigaction() fails with EINVAL,
#   reported as RuntimeError('sig N cannot be caught') as asyncio does.
# - Standard signals do not queue in the kernel: two SIGUSR1 sent before the
#   process handles the first may run the handler once, as on asyncio.
# - A process has one wakeup fd. When the loop takes it, it remembers the
#   one it replaced and puts it back when its last handler goes (asyncio
#   sets -1 instead), but only if that descriptor still names the same open
#   file (st_dev, st_ino): a number closed and reused since must not start
#   receiving signal bytes. If someone else took the wakeup fd after us, we
#   leave theirs in place.
# - fork() copies the wakeup fd setting and the socketpair into the child. A
#   forked child that got a signal would write its number into the parent's
#   socket, and the parent's loop would run its handler for the child's
#   signal. So a forked child drops the wakeup fd if it is one of ours
#   (asyncio 3.12+ resets it in every forked child; 3.11 does not).


cdef object _iscoroutine = _asyncio.coroutines.iscoroutine
cdef object _iscoroutinefunction = _asyncio.coroutines.iscoroutinefunction
cdef object _valid_signals = _signal.valid_signals
cdef int _SIGINT = _signal.SIGINT


# The write ends currently installed as the wakeup fd by some loop (a loop
# installs at most one). Main thread only, like set_wakeup_fd().
cdef set _installed_wakeup_fds = set()


def _signals_after_fork_in_child():
    if not _installed_wakeup_fds:
        return
    try:
        current = _signal.set_wakeup_fd(-1)
        if current not in _installed_wakeup_fds and current >= 0:
            _signal.set_wakeup_fd(current)
    except (ValueError, OSError):
        pass        # fork() from a thread other than the main one
    _installed_wakeup_fds.clear()

_os.register_at_fork(after_in_child=_signals_after_fork_in_child)


def _sighandler_noop(signum, frame):
    """Python-level handler of a signal with a loop handler: the work is
    done by the wakeup fd's byte, read by the loop."""
    pass


cdef object _fd_identity(int fd):
    try:
        st = _os.fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


cdef int _check_signal(object sig) except -1:
    if not isinstance(sig, int):
        raise TypeError(f'sig must be an int, not {sig!r}')
    if sig not in _valid_signals():
        raise ValueError(f'invalid signal number {sig}')
    return 0


cdef class SignalHandlers(FdWatcher):

    def __repr__(self):
        return f'<SignalHandlers fd={self.fd} signals={sorted(self.handlers)}>'

    cdef int _count_quiet(self) except -1:
        # Without handlers the socket is only a wake-up: the signal bytes it
        # receives have nothing to run, and its one job, waking a loop
        # asleep in epoll_wait so that Python-level handlers run (see
        # dispatch()), is done by the poll of a pass that sleeps. A pass
        # that does not sleep need not poll it (a Scheduler's loop 0 keeps
        # the socket for its whole life, see _wake_on_every_signal; without
        # this every pass of a callback-only workload made an epoll_wait
        # that a plain loop skips). Python-level handlers still run between
        # the busy loop's bytecodes, and the bytes wait in the socket (its
        # buffer holds far more than a burst of signals) for the next sleep.
        # Called after every change of `fd` or `handlers`.
        self._loop._n_quiet_fds = 1 if self.fd >= 0 and not self.handlers else 0
        return 0

    cdef int _open(self) except -1:
        # The socketpair is made on the first add_signal_handler() and kept
        # until loop.close(): a signal between two handlers' lifetimes must
        # not find a closed wakeup fd.
        if self._rsock is not None:
            return 0
        rsock, wsock = _socket.socketpair()
        try:
            rsock.setblocking(False)
            wsock.setblocking(False)
            self.fd = rsock.fileno()
            self._loop._fdtable.attach(self)
            self._loop._fdtable.set_mask(self, EPOLLIN)
        except BaseException:
            if self.fd >= 0:
                self._loop._fdtable.detach(self)
            self.fd = -1
            rsock.close()
            wsock.close()
            raise
        self._rsock = rsock
        self._wsock = wsock
        self._count_quiet()
        return 0

    cdef int _install(self) except -1:
        """Make our socket the process's wakeup fd. RuntimeError outside the
        main thread (asyncio's message: set_wakeup_fd's)."""
        cdef int ours = self._wsock.fileno()
        try:
            prev = _signal.set_wakeup_fd(ours)
        except (ValueError, OSError) as exc:
            raise RuntimeError(str(exc))
        if not self._installed:
            self._installed = True
            _installed_wakeup_fds.add(ours)
            self._prev_wakeup_fd = prev
            self._prev_wakeup_id = _fd_identity(prev) if prev >= 0 else None
        return 0

    cdef int _uninstall(self) except -1:
        if not self._installed:
            return 0
        self._installed = False
        cdef int ours = self._wsock.fileno()
        _installed_wakeup_fds.discard(ours)
        try:
            current = _signal.set_wakeup_fd(-1)
            if current != ours:
                # Someone took it after us: theirs stays.
                if current >= 0:
                    _signal.set_wakeup_fd(current)
            elif (self._prev_wakeup_fd >= 0 and self._prev_wakeup_id is not None
                    and _fd_identity(self._prev_wakeup_fd) == self._prev_wakeup_id):
                _signal.set_wakeup_fd(self._prev_wakeup_fd)
        except (ValueError, OSError) as exc:
            _logger.info('set_wakeup_fd(-1) failed: %s', exc)
        self._prev_wakeup_fd = -1
        self._prev_wakeup_id = None
        return 0

    cdef int add(self, int sig, Handle handle) except -1:
        self.handlers[sig] = handle
        self._count_quiet()
        return 0

    cdef bint remove(self, int sig) except -1:
        removed = self.handlers.pop(sig, None) is not None
        self._count_quiet()
        return removed

    cdef int dispatch(self, uint32_t events) except -1:
        cdef Handle h
        while self._rsock is not None:
            try:
                data = self._rsock.recv(4096)
            except (BlockingIOError, InterruptedError):
                break
            if not data:
                break
            for signum in data:
                h = self.handlers.get(signum)
                if h is None:
                    continue        # not ours, or removed since it arrived
                if h._cancelled:
                    _remove_signal_handler(<UnixLoop>self._loop, signum)
                else:
                    self._loop._ready.push(h)
        # The kernel may have delivered the signal to another thread (a
        # dispatch thread, a daemon): then this loop's epoll_wait was not
        # interrupted, and only this byte woke it. Python-level handlers
        # (asyncio.Runner's SIGINT handler, default_int_handler) run now, in
        # the main thread, as they would have on EINTR.
        PyErr_CheckSignals()
        return 0

    cdef int close(self) except -1:
        self._uninstall()
        if self._rsock is None:
            return 0
        if not self._loop._closed:
            self._loop._fdtable.detach(self)
        self.fd = -1
        self._rsock.close()
        self._wsock.close()
        self._rsock = None
        self._wsock = None
        self._count_quiet()
        return 0


cdef SignalHandlers _new_signal_handlers(EventLoopCore loop):
    cdef SignalHandlers s = SignalHandlers.__new__(SignalHandlers)
    s._loop = loop
    s.handlers = {}
    s.fd = -1
    s._prev_wakeup_fd = -1
    return s


cdef object _add_signal_handler(UnixLoop loop, object sig, object callback, tuple args):
    # asyncio's checks, in asyncio's order.
    if _iscoroutine(callback) or _iscoroutinefunction(callback):
        raise TypeError("coroutines cannot be used with add_signal_handler()")
    _check_signal(sig)
    loop._check_closed_c()
    cdef Handle handle = loop._make_handle(Handle.__new__(Handle), callback, args,
                                           None, 'add_signal_handler', False)
    cdef SignalHandlers signals = loop._signals
    signals._open()
    # set_wakeup_fd() raises outside the main thread: calling it first keeps
    # a loop in another thread from installing anything.
    signals._install()
    signals.add(sig, handle)
    try:
        # The no-op handler makes CPython catch the signal and write its
        # number to the wakeup fd. SA_RESTART (siginterrupt False) makes the
        # kernel restart the interrupted system call where it can (read,
        # write, waitpid...) instead of failing it with EINTR; epoll_wait is
        # never restarted (signal(7)), so a sleeping loop still wakes.
        _signal.signal(sig, _sighandler_noop)
        _signal.siginterrupt(sig, False)
    except OSError as exc:
        signals.remove(sig)
        if not signals.handlers:
            signals._uninstall()
        if exc.errno == _errno.EINVAL:
            raise RuntimeError(f'sig {sig} cannot be caught')
        raise


cdef object _remove_signal_handler(UnixLoop loop, object sig):
    _check_signal(sig)
    cdef SignalHandlers signals = loop._signals
    if not signals.remove(sig):
        return False
    handler = _signal.default_int_handler if sig == _SIGINT else _signal.SIG_DFL
    try:
        _signal.signal(sig, handler)
    except OSError as exc:
        if exc.errno == _errno.EINVAL:
            raise RuntimeError(f'sig {sig} cannot be caught')
        raise
    if not signals.handlers and not signals._pinned:
        signals._uninstall()
    return True


cdef int _close_signal_handlers(UnixLoop loop) except -1:
    # loop.close(): asyncio removes every handler (restoring SIG_DFL or
    # default_int_handler) unless the interpreter is finalizing.
    cdef SignalHandlers signals = loop._signals
    try:
        if not _sys.is_finalizing():
            for sig in list(signals.handlers):
                _remove_signal_handler(loop, sig)
        elif signals.handlers:
            _warnings.warn(f"Closing the loop {loop!r} "
                           f"on interpreter shutdown "
                           f"stage, skipping signal handlers removal",
                           ResourceWarning,
                           source=loop)
            signals.handlers.clear()
    finally:
        signals.close()
    return 0
