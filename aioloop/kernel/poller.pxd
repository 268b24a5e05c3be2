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
        unsigned long fork_gen  # fork generation at creation (loop/loop.pyx)
        # What the kernel has registered per fd (0: nothing), indexed by fd,
        # `nregs` entries; `nregistered` counts the non-zero ones. The waker
        # is not in it.
        uint32_t *regs
        int nregs
        Py_ssize_t nregistered
        # 1 while the loop's thread is inside epoll_wait with the GIL
        # released; read by other threads with aio_load_acquire (a hint:
        # the daemon pool waits for it before taking the GIL, see
        # sched/daemon_pool.pyx).
        int polling
        # epoll_ctl system calls made (loop.stats()['epoll_ctl']): what a
        # registration pattern costs, testable without strace.
        unsigned long long nctl

    cdef inline uint32_t registered(self, int fd) noexcept:
        return self.regs[fd] if 0 <= fd < self.nregs else 0
    cdef int _ctl(self, int op, int fd, uint32_t mask) except -1
    cdef int _check_fork(self) except -1
    cdef int _grow_regs(self, int fd) except -1
    cdef int record(self, int fd, uint32_t mask) except -1
    cdef int set_interest(self, int fd, uint32_t mask) except -1
    cdef int renew(self, int fd, uint32_t mask) except -1
    cdef int discard(self, int fd) except -1
    cdef int wait(self, int timeout_ms) except -2
    cdef int wake(self) noexcept nogil
    cdef void drain_waker(self) noexcept nogil
    cdef void close(self, bint forked) noexcept
