# The kernel layer: epoll plus an eventfd used to wake a sleeping loop.
#
# The Poller is the only code that talks to epoll. The loop above it says
# what it wants per fd (set_interest), sleeps (wait), is woken (wake); the
# Poller keeps what the kernel has registered per fd and turns a change of
# interest into the one epoll_ctl it needs (ADD, MOD or DEL). Another backend
# (io_uring's poll ops) would replace this file behind the same methods.
#
# Some facts about epoll that shape this code:
# - epoll watches open file *descriptions*, not fd numbers. Closing an fd
#   removes it from the set only when no dup() of it remains; until then
#   events keep arriving for a number we may already have forgotten, and no
#   epoll_ctl can reach that registration any more (the number now names
#   nothing, or another file). So every event is checked against our own
#   table of registrations: wait() drops events for fds with no registration
#   and tries an EPOLL_CTL_DEL for them, which fails harmlessly when the
#   registration is unreachable.
# - The loop may close an fd before it unregisters it (a socket closed under
#   its reader). The kernel then forgot the registration by itself: DEL
#   answers ENOENT or EBADF, which means "already gone", not an error. After
#   a MOD or ADD failed that way, the caller records what it meant to have
#   (record()), so that the next change picks the op its state implies.
# - EPOLL_CTL_ADD fails with EEXIST when a dup'd description is still
#   registered under a reused number, and EPOLL_CTL_MOD fails with ENOENT when
#   the kernel already dropped a closed fd: each falls back to the other op.
#   For the same reason a registration we still hold for an fd number that
#   may have been closed and reused since is renewed (renew(): MOD, else ADD)
#   rather than trusted.
# - Registrations are level-triggered and persistent, not EPOLLONESHOT:
#   asyncio's readers and writers are level-triggered (a callback that reads
#   only part of the data is called again), and a transport that reads on
#   every event would pay one epoll_ctl per event to re-arm a one-shot
#   registration. EPOLLOUT is registered only while a write queue drains.
# - Regular files and directories cannot be polled: EPOLL_CTL_ADD gives EPERM,
#   which reaches the caller as PermissionError, as with asyncio's selectors.
# - An epoll set is shared with a fork()ed child. A child calling EPOLL_CTL_DEL
#   would remove the parent's registrations, so set_interest() and renew()
#   refuse to run in a process other than the one that made the Poller (the
#   loop refuses to poll there at all, so wait() never reaches the set), and
#   close() after fork only closes the child's descriptors.
# - epoll_wait takes milliseconds; the loop rounds timeouts *up* so it never
#   wakes before its next timer and spins.

from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport strerror, memset
from libc.stdint cimport uint64_t
from aioloop.includes.linux cimport *
from aioloop.includes.atomics cimport *

cdef enum:
    _MIN_EVENTS = 64
    _MAX_EVENTS = 4096
    _MIN_FDS = 64


cdef object _make_oserror(int err):
    # OSError(errno, msg) picks the subclass (ConnectionResetError, ...).
    return OSError(err, strerror(err).decode())


cdef _raise_oserror(int err):
    raise _make_oserror(err)


cdef class Poller:
    def __cinit__(self):
        self.epfd = -1
        self.wakefd = -1
        self.events = NULL
        self.regs = NULL
        self.nregs = 0
        self.nregistered = 0
        self.closed = False
        self.fork_gen = _fork_generation
        self.epfd = epoll_create1(EPOLL_CLOEXEC)
        if self.epfd < 0:
            _raise_oserror(errno)
        self.wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)
        if self.wakefd < 0:
            err = errno
            close(self.epfd)
            self.epfd = -1
            _raise_oserror(err)
        self.maxevents = _MIN_EVENTS
        self.events = <epoll_event *>malloc(sizeof(epoll_event) * self.maxevents)
        if self.events == NULL:
            raise MemoryError()
        # The waker is registered for the Poller's whole life and never
        # appears in `regs`: wait() consumes its events itself.
        self._ctl(EPOLL_CTL_ADD, self.wakefd, EPOLLIN)

    def __dealloc__(self):
        self.close(False)

    # --- registrations --------------------------------------------------------

    cdef int _ctl(self, int op, int fd, uint32_t mask) except -1:
        cdef epoll_event ev
        ev.events = mask
        ev.data.u64 = 0
        ev.data.fd = fd
        self.nctl += 1
        if epoll_ctl(self.epfd, op, fd, &ev) == 0:
            return 0
        cdef int err = errno
        if op == EPOLL_CTL_ADD and err == EEXIST:
            self.nctl += 1
            if epoll_ctl(self.epfd, EPOLL_CTL_MOD, fd, &ev) == 0:
                return 0
            err = errno
        elif op == EPOLL_CTL_MOD and err == ENOENT:
            self.nctl += 1
            if epoll_ctl(self.epfd, EPOLL_CTL_ADD, fd, &ev) == 0:
                return 0
            err = errno
        elif op == EPOLL_CTL_DEL and (err == ENOENT or err == EBADF):
            # Already gone: the fd was closed (and its description released)
            # before it was unregistered. Nothing is left to remove.
            return 0
        _raise_oserror(err)

    cdef int _check_fork(self) except -1:
        if self.fork_gen != _fork_generation:
            raise RuntimeError(_FORKED_LOOP_MSG)
        return 0

    cdef int _grow_regs(self, int fd) except -1:
        cdef int n = self.nregs if self.nregs else _MIN_FDS
        while n <= fd:
            n *= 2
        new = <uint32_t *>realloc(self.regs, sizeof(uint32_t) * n)
        if new == NULL:
            raise MemoryError()
        memset(new + self.nregs, 0, sizeof(uint32_t) * (n - self.nregs))
        self.regs = new
        self.nregs = n
        return 0

    cdef int record(self, int fd, uint32_t mask) except -1:
        """Take `mask` as fd's registration without a system call (the
        kernel already dropped a closed fd: see the facts above)."""
        cdef uint32_t old = self.registered(fd)
        if old == mask or self.closed:
            return 0
        if fd >= self.nregs:
            self._grow_regs(fd)
        if old == 0:
            self.nregistered += 1
        elif mask == 0:
            self.nregistered -= 1
        self.regs[fd] = mask
        return 0

    cdef int set_interest(self, int fd, uint32_t mask) except -1:
        """Register fd for the epoll events `mask` (0: unregister), with the
        ADD, MOD or DEL that its current registration calls for. On failure
        (EPERM for a regular file, EBADF for a closed fd) raises OSError and
        nothing changes. RuntimeError in a fork()ed child."""
        cdef uint32_t old = self.registered(fd)
        if mask == old or self.closed:
            return 0
        self._check_fork()
        if mask == 0:
            self._ctl(EPOLL_CTL_DEL, fd, 0)
        elif old == 0:
            self._ctl(EPOLL_CTL_ADD, fd, mask)
        else:
            self._ctl(EPOLL_CTL_MOD, fd, mask)
        return self.record(fd, mask)

    cdef int renew(self, int fd, uint32_t mask) except -1:
        """Register fd for `mask` with the kernel again, whatever we recorded:
        the number may have been closed and reused since it was registered."""
        if self.closed:
            return 0
        self._check_fork()
        self._ctl(EPOLL_CTL_MOD, fd, mask)
        return self.record(fd, mask)

    cdef int discard(self, int fd) except -1:
        """Unregister fd whatever we recorded for it (a stale registration:
        the kernel reported an fd we no longer watch)."""
        self._ctl(EPOLL_CTL_DEL, fd, 0)
        return self.record(fd, 0)

    # --- waiting --------------------------------------------------------------

    cdef int wait(self, int timeout_ms) except -2:
        """Wait for events with the GIL released. Returns the number of
        events in self.events, each for an fd registered through
        set_interest() (the waker's and stale ones are consumed here), or -1
        when a signal interrupted the wait."""
        cdef int n, i, j, fd, err = 0
        if timeout_ms == 0:
            # It cannot block: releasing and re-taking the GIL would cost
            # more than the syscall (about 400 instructions per pass).
            n = epoll_wait(self.epfd, self.events, self.maxevents, 0)
            if n < 0:
                err = errno
        else:
            with nogil:
                aio_store_release(&self.polling, 1)
                n = epoll_wait(self.epfd, self.events, self.maxevents, timeout_ms)
                if n < 0:
                    err = errno
                aio_store_release(&self.polling, 0)
        if n < 0:
            if err == EINTR:
                return -1
            _raise_oserror(err)
        cdef int got = n
        j = 0
        for i in range(n):
            fd = self.events[i].data.fd
            if fd == self.wakefd:
                self.drain_waker()
            elif fd >= self.nregs or self.regs[fd] == 0:
                # A stale registration (fd closed and reused behind our back).
                self._ctl(EPOLL_CTL_DEL, fd, 0)
            else:
                if j != i:
                    self.events[j] = self.events[i]
                j += 1
        if got == self.maxevents and self.maxevents < _MAX_EVENTS:
            # A full batch: more fds were probably ready. Grow for next time.
            new = <epoll_event *>realloc(self.events, sizeof(epoll_event) * self.maxevents * 2)
            if new != NULL:
                self.events = new
                self.maxevents *= 2
        return j

    cdef int wake(self) noexcept nogil:
        # eventfd is a counter: any number of writes before the loop reads it
        # coalesce into one readiness event. EAGAIN (counter at its maximum)
        # still means the loop will wake, so it is ignored.
        cdef uint64_t one = 1
        return write(self.wakefd, &one, 8)

    cdef void drain_waker(self) noexcept nogil:
        cdef uint64_t value
        read(self.wakefd, &value, 8)

    def statistics(self):
        """What the poller holds: its backend, the fds registered with the
        kernel (the waker excluded), the size of its event batch, and
        whether its thread is inside epoll_wait now."""
        return {
            'backend': 'epoll',
            'registered_fds': self.nregistered,
            'max_events': self.maxevents,
            'polling': bool(aio_load_acquire(&self.polling)),
        }

    cdef void close(self, bint forked) noexcept:
        if self.closed:
            return
        self.closed = True
        # Closing our own descriptors is safe in a forked child: it drops the
        # child's references only. epoll_ctl is never called here.
        if self.wakefd >= 0:
            close(self.wakefd)
            self.wakefd = -1
        if self.epfd >= 0:
            close(self.epfd)
            self.epfd = -1
        if self.events != NULL:
            free(self.events)
            self.events = NULL
        if self.regs != NULL:
            free(self.regs)
            self.regs = NULL
        self.nregs = 0
        self.nregistered = 0
