from cpython.object cimport PyObject
from aioloop.includes.pthread cimport pthread_mutex_t

cdef class Inbox:
    # The loop's only door for other threads: a multi-producer, single-consumer
    # queue of Handles. Every field below is guarded by `lock`, except `spare`
    # and `spare_cap`, which only the consumer (the loop thread) touches, and
    # the atomics `sleeping` and `pending`.
    cdef:
        pthread_mutex_t lock
        PyObject **items        # guarded by lock
        Py_ssize_t count        # guarded by lock
        Py_ssize_t cap          # guarded by lock
        # The two flags of the wake-up handshake, atomics (see inbox.pyx):
        int sleeping            # the loop is (about to be) in epoll_wait
        int pending             # items are queued (set under lock, cleared by drain)
        PyObject **spare        # consumer only: the batch being drained
        Py_ssize_t spare_cap    # consumer only
        Py_ssize_t spare_pos    # consumer only: next item of the batch to hand out
        Py_ssize_t spare_left   # consumer only: items of the batch not handed out yet
        Poller poller           # immutable after init; its eventfd is written under lock
        unsigned long long wakeups   # guarded by lock: eventfd writes made
        bint wake_owed          # guarded by lock: a put(defer=True) owes the loop a wake
        bint closed             # guarded by lock: set by close(); no put, no wake after it
        # The fork generation (loop.pyx) it was made in. In a fork()ed child
        # the lock may have been held by a thread that does not exist there:
        # an inherited inbox never takes it again (see inbox.pyx).
        unsigned long fork_gen  # immutable after init

    cdef int put(self, Handle h, bint defer=*) except -1
    cdef void pay_wake(self) noexcept nogil
    cdef bint _grow_locked(self) noexcept nogil
    cdef bint prepare_sleep(self) noexcept
    cdef Py_ssize_t drain_into(self, ReadyQueue q, Py_ssize_t limit=*) except -1
    cdef int kick(self) noexcept nogil
    cdef void cancel_sleep(self) noexcept nogil
    cdef void close(self) noexcept
