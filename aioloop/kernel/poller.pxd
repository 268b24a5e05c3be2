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
        # 1 while the loop's thread is inside epoll_wait with the GIL
        # released; read by other threads with aio_load_acquire (a hint:
        # the daemon pool waits for it before taking the GIL, see
        # sched/daemon_pool.pyx).
        int polling

    cdef int ctl(self, int op, int fd, uint32_t mask) except -1
    cdef int wait(self, int timeout_ms) except -2
    cdef int wake(self) noexcept nogil
    cdef void drain_waker(self) noexcept nogil
    cdef void close(self, bint forked) noexcept
