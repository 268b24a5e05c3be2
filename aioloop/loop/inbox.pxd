from cpython.object cimport PyObject
from aioloop.includes.pthread cimport pthread_mutex_t

cdef class Inbox:
    # The loop's only door for other threads: a multi-producer, single-consumer
    # queue of Handles. Every field below is guarded by `lock`, except `spare`
    # and `spare_cap`, which only the consumer (the loop thread) touches.
    cdef:
        pthread_mutex_t lock
        PyObject **items        # guarded by lock
        Py_ssize_t count        # guarded by lock
        Py_ssize_t cap          # guarded by lock
        bint sleeping           # guarded by lock: the loop is (about to be) in epoll_wait
        PyObject **spare        # consumer only
        Py_ssize_t spare_cap    # consumer only
        Poller poller           # immutable after init; wake() is thread-safe
        unsigned long long wakeups   # guarded by lock: eventfd writes made

    cdef int put(self, Handle h) except -1
    cdef bint prepare_sleep(self) noexcept
    cdef int drain_into(self, ReadyQueue q) except -1
    cdef void clear(self) noexcept
