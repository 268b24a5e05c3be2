# The kernel layer: epoll plus an eventfd used to wake a sleeping loop.
#
# Some facts about epoll that shape this code:
# - epoll watches open file *descriptions*, not fd numbers. Closing an fd
#   removes it from the set only when no dup() of it remains; until then
#   events keep arriving for a number that may already be reused. The loop
#   therefore looks up each event's fd in its own table and ignores events for
#   fds it no longer watches (and deletes them from the set).
# - EPOLL_CTL_ADD fails with EEXIST when a dup'd description is still
#   registered under a reused number, and EPOLL_CTL_MOD fails with ENOENT when
#   the kernel already dropped a closed fd: each falls back to the other op.
# - Regular files and directories cannot be polled: EPOLL_CTL_ADD gives EPERM,
#   which reaches the caller as PermissionError, as with asyncio's selectors.
# - An epoll set is shared with a fork()ed child. A child calling EPOLL_CTL_DEL
#   would remove the parent's registrations, so close() after fork only closes
#   the child's descriptors and never touches the set.
# - epoll_wait takes milliseconds; timeouts are rounded *up* so the loop never
#   wakes before its next timer and spins.

from libc.stdlib cimport malloc, realloc, free
from libc.string cimport strerror
from libc.stdint cimport uint64_t
from aioloop.includes.linux cimport *
from aioloop.includes.atomics cimport *

cdef enum:
    _MIN_EVENTS = 64
    _MAX_EVENTS = 4096


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
        self.closed = False
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
        self.ctl(EPOLL_CTL_ADD, self.wakefd, EPOLLIN)

    def __dealloc__(self):
        self.close(False)

    cdef int ctl(self, int op, int fd, uint32_t mask) except -1:
        cdef epoll_event ev
        ev.events = mask
        ev.data.u64 = 0
        ev.data.fd = fd
        if epoll_ctl(self.epfd, op, fd, &ev) == 0:
            return 0
        cdef int err = errno
        if op == EPOLL_CTL_ADD and err == EEXIST:
            if epoll_ctl(self.epfd, EPOLL_CTL_MOD, fd, &ev) == 0:
                return 0
            err = errno
        elif op == EPOLL_CTL_MOD and err == ENOENT:
            if epoll_ctl(self.epfd, EPOLL_CTL_ADD, fd, &ev) == 0:
                return 0
            err = errno
        elif op == EPOLL_CTL_DEL and (err == ENOENT or err == EBADF):
            # Already gone: the fd was closed (and its description released)
            # before it was unregistered. Nothing is left to remove.
            return 0
        _raise_oserror(err)

    cdef int wait(self, int timeout_ms) except -2:
        """Wait for events with the GIL released. Returns the number of
        events in self.events, or -1 when a signal interrupted the wait."""
        cdef int n, err = 0
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
        if n == self.maxevents and self.maxevents < _MAX_EVENTS:
            # A full batch: more fds were probably ready. Grow for next time.
            new = <epoll_event *>realloc(self.events, sizeof(epoll_event) * self.maxevents * 2)
            if new != NULL:
                self.events = new
                self.maxevents *= 2
        return n

    cdef int wake(self) noexcept nogil:
        # eventfd is a counter: any number of writes before the loop reads it
        # coalesce into one readiness event. EAGAIN (counter at its maximum)
        # still means the loop will wake, so it is ignored.
        cdef uint64_t one = 1
        return write(self.wakefd, &one, 8)

    cdef void drain_waker(self) noexcept nogil:
        cdef uint64_t value
        read(self.wakefd, &value, 8)

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
