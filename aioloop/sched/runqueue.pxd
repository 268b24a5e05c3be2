from aioloop.includes.pthread cimport pthread_mutex_t, pthread_cond_t

cdef class SchedHandle(Handle):
    # Work submitted through a Scheduler without a hint: it may be taken by
    # whichever dispatch loop runs (or steals) it, so `_loop` is set by the
    # taking loop's thread when it moves the handle into its ready queue.
    # cancel() only sets `_cancelled` (an atomic store): the loop that holds
    # it drops callback and arguments when it lets it go.
    pass


cdef class RunQueue:
    # One dispatch thread's queue of unhinted, not yet started work.
    # Thread contract:
    #   buf, cap, head  under `lock` only
    #   count           written under `lock` with an atomic store; read by
    #                   any thread with a relaxed atomic load (placement,
    #                   has_work, steal victim choice: a stale read costs at
    #                   most one needless or missed steal attempt, never an
    #                   item, because the items move under the lock)
    #   n_put_outside   under `lock` (statistics)
    #   bound           immutable; 0 = unbounded
    #   space           signalled (under `lock`) when a bounded queue drops
    #                   below its bound; blocked outside producers wait on it
    cdef:
        pthread_mutex_t lock
        pthread_cond_t space
        PyObject **buf
        Py_ssize_t cap
        Py_ssize_t head
        Py_ssize_t count
        Py_ssize_t bound
        int waiting          # producers blocked on `space` (under lock)
        # Statistics: puts from outside the dispatch threads (block=True),
        # under `lock` (read with puts_outside()).
        unsigned long long n_put_outside
        int closed           # under lock: put() refuses, waiters give up

    cdef bint _grow_locked(self) noexcept nogil
    cdef int _store_locked(self, PyObject *h) noexcept nogil
    cdef int _put_locked(self, PyObject *h, bint outside) noexcept nogil
    cdef Py_ssize_t _pop_locked(self, PyObject **out, Py_ssize_t n) noexcept nogil
    cdef int put(self, SchedHandle h, bint block) except -1
    cdef Py_ssize_t take(self, PyObject **out, Py_ssize_t n) noexcept nogil
    cdef Py_ssize_t take_half(self, PyObject **out, Py_ssize_t n) noexcept nogil
    cdef int put_many(self, PyObject **items, Py_ssize_t n) except -1
    cdef Py_ssize_t size(self) noexcept nogil
    cdef unsigned long long puts_outside(self) noexcept nogil
    cdef void close(self) noexcept
