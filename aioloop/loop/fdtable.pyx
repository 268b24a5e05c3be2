# The fd table: which watcher each fd serves (a transport, the user's
# reader/writer pair, or both while a socket transport is closing), and what
# each watcher asks the poller for. The poller (kernel/poller.pyx) keeps what
# the kernel has and issues the epoll_ctl calls; this file only says, per
# watcher, which events it wants.
#
# Invariant: for every fd whose slot holds a watcher w, the poller's
# registration for that fd is w.mask; a watcher in no slot asks for nothing
# (mask 0), except a closing transport served by the ReaderWriter in its slot
# (see share_mask below).


cdef class FdTable:
    def __cinit__(self, Poller poller):
        self.poller = poller
        self.fds = []

    cdef int clear(self) except -1:
        # The loop closes: its poller goes with every registration.
        self.fds = []
        return 0

    cdef int set_mask(self, FdWatcher w, uint32_t mask) except -1:
        """Ask the poller for `mask` on w.fd, for w. On failure (EPERM for a
        regular file, EBADF for a closed fd) nothing changes."""
        if mask == w.mask:
            return 0
        cdef FdWatcher slot = self.watcher(w.fd)
        if slot is not w and isinstance(slot, ReaderWriter) and (<ReaderWriter>slot).transport is w:
            return self.share_mask(<ReaderWriter>slot, mask)
        self.poller.set_interest(w.fd, mask)
        w.mask = mask
        return 0

    cdef int forget(self, FdWatcher w, uint32_t mask) except -1:
        """Record w's registration as `mask` without a system call: the fd
        was closed before being unregistered, and the kernel forgot it."""
        self.poller.record(w.fd, mask)
        w.mask = mask
        return 0

    cdef int attach(self, FdWatcher w) except -1:
        """Give w.fd's slot to w (a transport). Its registration follows
        w.mask, set through set_mask()."""
        existing = self.watcher(w.fd)
        if existing is not None and existing is not w:
            if isinstance(existing, ReaderWriter) and (
                    (<ReaderWriter>existing).reader is not None or
                    (<ReaderWriter>existing).writer is not None):
                raise RuntimeError(
                    f'File descriptor {w.fd} is used by a reader or writer; '
                    f'remove it first')
            self.set_mask(<FdWatcher>existing, 0)
        if w.fd >= len(self.fds):
            self.fds.extend([None] * (w.fd + 1 - len(self.fds)))
        self.fds[w.fd] = w
        return 0

    cdef int detach(self, FdWatcher w) except -1:
        """Unregister w (before its fd is closed) and free its slot."""
        cdef ReaderWriter rw
        slot = self.watcher(w.fd)
        if slot is not w and isinstance(slot, ReaderWriter) and (<ReaderWriter>slot).transport is w:
            # Readers and writers added while w was closing go with its
            # socket: the kernel drops a closed fd from the epoll set, and a
            # registration left behind would refuse (or never serve) the next
            # socket that gets this fd number. (asyncio's selector keeps such
            # a stale key until remove_reader().) Their handles are not
            # cancelled: one already queued for this pass still runs, as on
            # asyncio.
            rw = <ReaderWriter>slot
            rw.transport = None
            w.mask = 0
            rw.reader = None
            rw.writer = None
            rw.fileobj = None
            rw.lazy_ref = None
            try:
                self.set_mask(rw, 0)
            except OSError:
                self.forget(rw, 0)
            self.fds[w.fd] = None
            return 0
        try:
            self.set_mask(w, 0)
        except OSError:
            self.forget(w, 0)   # already closed: the kernel forgot it
        if self.watcher(w.fd) is w:
            self.fds[w.fd] = None
        return 0

    # --- readers and writers ---------------------------------------------------

    cdef object add_callback(self, int fd, object fileobj, bint reading, Handle h):
        """Make h fd's reader (or writer), replacing and cancelling the
        previous one. Returns h. RuntimeError if a transport owns fd."""
        cdef ReaderWriter rw
        w = self.watcher(fd)
        if w is None:
            rw = ReaderWriter.__new__(ReaderWriter)
            rw.fd = fd
            rw.mask = 0
            rw.fileobj = fileobj
        elif isinstance(w, ReaderWriter):
            rw = <ReaderWriter>w
        elif w.admits_readers():
            # A closing transport's fd: share it (see share_mask). rw takes
            # over the transport's registration; the slot is rw's below.
            rw = ReaderWriter.__new__(ReaderWriter)
            rw.fd = fd
            rw.mask = w.mask
            rw.fileobj = fileobj
            rw.transport = w
        else:
            raise RuntimeError(f'File descriptor {fileobj!r} is used by transport {w!r}')
        cdef unsigned int bit = EPOLLIN if reading else EPOLLOUT
        if rw.mask & bit and (rw.reader if reading else rw.writer) is None:
            # Left registered by a lazy removal. Trust that registration only
            # for the very same (non-int) file object: the fd number may have
            # been closed and reused since, and the kernel then dropped it.
            if isinstance(fileobj, int) or not (
                    fileobj is rw.fileobj or
                    (rw.lazy_ref is not None and rw.lazy_ref() is fileobj)):
                self.poller.renew(fd, rw.mask)
                rw.fileobj = fileobj
        else:
            self.set_mask(rw, rw.mask | bit)
        rw.lazy_ref = None
        if rw.fileobj is None:
            rw.fileobj = fileobj
        if fd >= len(self.fds):
            self.fds.extend([None] * (fd + 1 - len(self.fds)))
        self.fds[fd] = rw
        cdef Handle old
        if reading:
            old, rw.reader = rw.reader, h
        else:
            old, rw.writer = rw.writer, h
        if old is not None:
            old.cancel()
        return h

    cdef object remove_callback(self, int fd, bint reading, bint lazy=False):
        """Remove fd's reader (or writer); True if there was one. `lazy`
        leaves the kernel registration in place (the sock_* coroutines wait
        on the same fd again and again): it is dropped only if an event
        arrives with no callback to take it (ReaderWriter.on_events), so a
        recv/send loop makes no epoll_ctl per message."""
        cdef ReaderWriter rw
        w = self.watcher(fd)
        if w is None or not isinstance(w, ReaderWriter):
            return False
        rw = <ReaderWriter>w
        cdef Handle old = rw.reader if reading else rw.writer
        if reading:
            rw.reader = None
        else:
            rw.writer = None
        if not lazy:
            self.drop_bits(rw, EPOLLIN if reading else EPOLLOUT)
        elif rw.reader is None and rw.writer is None and rw.fileobj is not None:
            # Idle but still in the epoll set. Hold the file object weakly:
            # a socket its user drops must still be closed by the collector,
            # and a re-add can then tell whether it is the same socket.
            try:
                rw.lazy_ref = PyWeakref_NewRef(rw.fileobj, None)
            except TypeError:
                rw.lazy_ref = None
            rw.fileobj = None
        if old is not None:
            old.cancel()
            return True
        return False

    cdef int drop_bits(self, ReaderWriter rw, uint32_t bits) except -1:
        cdef uint32_t mask = rw.mask & ~bits
        if rw.transport is not None:
            mask |= rw.transport.mask     # still wanted by the closing transport
        try:
            self.set_mask(rw, mask)
        except OSError:
            # The fd was closed before being removed: the kernel has already
            # forgotten it. Forget it here too.
            self.forget(rw, mask)
        if rw.transport is not None:
            self.unshare_if_idle(rw)
        elif rw.mask == 0 and rw.reader is None and rw.writer is None:
            if self.watcher(rw.fd) is rw:
                self.fds[rw.fd] = None
        return 0

    # A closing socket transport's fd may get readers and writers (asyncio
    # refuses them only while the transport is open). The table has one
    # watcher per fd, so a ReaderWriter takes the slot and the registration,
    # and serves the transport as `rw.transport`: rw.mask (the registration)
    # = its callbacks' events | transport.mask (what the transport still
    # wants: EPOLLOUT while its write queue drains). The slot goes back to
    # the transport once the callbacks are gone, or is freed with them at the
    # transport's connection_lost() (detach).

    cdef int share_mask(self, ReaderWriter rw, uint32_t mask) except -1:
        """rw.transport now wants `mask` (set_mask() on it lands here)."""
        cdef FdWatcher t = rw.transport
        # rw's own events: its callbacks', and what a lazy removal left.
        cdef uint32_t own = rw.mask & ~t.mask
        if rw.reader is not None:
            own |= EPOLLIN
        if rw.writer is not None:
            own |= EPOLLOUT
        self.set_mask(rw, own | mask)
        t.mask = mask       # the registration is rw's, for both
        return self.unshare_if_idle(rw)

    cdef int unshare_if_idle(self, ReaderWriter rw) except -1:
        """Give the slot back to rw.transport once rw asks for nothing of its own."""
        cdef FdWatcher t = rw.transport
        if rw.reader is not None or rw.writer is not None or rw.mask & ~t.mask:
            return 0
        # rw.mask == t.mask: the registration passes to t unchanged.
        rw.transport = None
        rw.mask = 0
        if self.watcher(rw.fd) is rw:
            self.fds[rw.fd] = t
        return 0

    cdef int registered_fd(self, object fileobj) except -2:
        # As asyncio's selector (_fileobj_lookup): when fileobj has no valid
        # fd any more (a socket closed before its reader was removed gives
        # -1), look for the watcher registered with that very object.
        try:
            return _fileobj_to_fd(fileobj)
        except ValueError:
            for w in self.fds:
                if isinstance(w, ReaderWriter) and (<ReaderWriter>w).fileobj is fileobj:
                    return (<ReaderWriter>w).fd
            raise
