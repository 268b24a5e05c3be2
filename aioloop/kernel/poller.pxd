from libc.stdint cimport uint32_t
from aioloop.includes.linux cimport epoll_event

cdef class Poller:
    # Touched only by the loop's own thread, except `wake()` (any thread) and
    # `wakefd`, which is immutable after __cinit__.
    cdef:
        int epfd
        int wakefd
        epoll_event *events
        int maxevents
        bint closed

    cdef int ctl(self, int op, int fd, uint32_t mask) except -1
    cdef int wait(self, int timeout_ms) except -2
    cdef int wake(self) noexcept nogil
    cdef void drain_waker(self) noexcept nogil
    cdef void close(self, bint forked) noexcept
