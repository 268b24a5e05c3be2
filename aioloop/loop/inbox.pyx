# The thread-safe inbox behind call_soon_threadsafe (and, later, the
# Scheduler's cross-thread sched()).
#
# Wake-up protocol (one eventfd write per sleep, not per call):
#   loop:     lock; if items: don't sleep; else sleeping = 1; unlock; epoll_wait
#   producer: lock; append; w = sleeping; sleeping = 0; unlock; if w: write(eventfd)
#   loop:     after epoll_wait: lock; sleeping = 0; swap items with spare; unlock
# A producer that appends before the loop checks makes the loop poll with a
# zero timeout; one that appends after sees `sleeping` and wakes it. The first
# producer to see `sleeping` clears it, so later ones skip the syscall.

from cpython.ref cimport Py_INCREF, Py_XDECREF
from libc.stdlib cimport malloc, realloc, free
from aioloop.includes.pthread cimport *


cdef class Inbox:
    def __cinit__(self, Poller poller):
        if pthread_mutex_init(&self.lock, NULL) != 0:
            raise MemoryError()
        self.poller = poller
        self.cap = 64
        self.count = 0
        self.sleeping = False
        self.wakeups = 0
        self.items = <PyObject **>malloc(sizeof(PyObject *) * self.cap)
        self.spare_cap = 64
        self.spare = <PyObject **>malloc(sizeof(PyObject *) * self.spare_cap)
        if self.items == NULL or self.spare == NULL:
            raise MemoryError()

    def __dealloc__(self):
        self.clear()
        free(self.items)
        free(self.spare)
        pthread_mutex_destroy(&self.lock)

    cdef int put(self, Handle h) except -1:
        cdef bint wake
        cdef PyObject **grown
        Py_INCREF(h)
        pthread_mutex_lock(&self.lock)
        if self.count == self.cap:
            grown = <PyObject **>realloc(self.items, sizeof(PyObject *) * self.cap * 2)
            if grown == NULL:
                pthread_mutex_unlock(&self.lock)
                _gc_unpark_refused(h)
                Py_XDECREF(<PyObject *>h)
                raise MemoryError()
            self.items = grown
            self.cap *= 2
        self.items[self.count] = <PyObject *>h
        self.count += 1
        wake = self.sleeping
        if wake:
            self.sleeping = False
            self.wakeups += 1
        pthread_mutex_unlock(&self.lock)
        if wake:
            self.poller.wake()
        return 0

    cdef bint prepare_sleep(self) noexcept:
        """Called by the loop before a blocking poll. False when items are
        waiting (the loop must not block); True when a producer will wake it."""
        cdef bint ok
        pthread_mutex_lock(&self.lock)
        ok = self.count == 0
        if ok:
            self.sleeping = True
        pthread_mutex_unlock(&self.lock)
        return ok

    cdef int drain_into(self, ReadyQueue q) except -1:
        cdef PyObject **batch
        cdef Py_ssize_t i, n, batch_cap
        pthread_mutex_lock(&self.lock)
        self.sleeping = False
        n = self.count
        if n == 0:
            pthread_mutex_unlock(&self.lock)
            return 0
        batch = self.items
        batch_cap = self.cap
        self.items = self.spare
        self.cap = self.spare_cap
        self.count = 0
        pthread_mutex_unlock(&self.lock)
        self.spare = batch
        self.spare_cap = batch_cap
        # Push in order; on MemoryError the remaining references are released
        # so nothing leaks (the callbacks are lost, as with any allocation
        # failure while scheduling).
        i = 0
        try:
            while i < n:
                q.push(<Handle>batch[i])
                Py_XDECREF(batch[i])
                i += 1
        finally:
            while i < n:
                _gc_release(batch[i])
                i += 1
        return 0

    cdef void clear(self) noexcept:
        cdef PyObject **batch
        cdef Py_ssize_t i, n
        if self.items == NULL:
            return
        pthread_mutex_lock(&self.lock)
        n = self.count
        batch = self.items
        self.items = self.spare
        self.cap, self.spare_cap = self.spare_cap, self.cap
        self.count = 0
        pthread_mutex_unlock(&self.lock)
        self.spare = batch
        for i in range(n):
            _gc_release(batch[i])

    def __len__(self):
        cdef Py_ssize_t n
        pthread_mutex_lock(&self.lock)
        n = self.count
        pthread_mutex_unlock(&self.lock)
        return n
