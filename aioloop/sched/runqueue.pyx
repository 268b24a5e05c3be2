# The Scheduler's run queues: one per dispatch thread, holding unhinted work
# that has not started yet (hinted work is pinned and goes to its loop's
# inbox instead, so it is never here and never stolen).
#
# A queue is a ring of owned references to SchedHandles under a pthread mutex.
# Its owner takes a bounded batch per pass of the run cycle (take); a sibling
# about to sleep steals half of it (take_half) into its own queue; any thread
# puts. The critical sections never call into Python: references move in and
# out as raw pointers and are released by the caller, outside the lock.
#
# Lock order: a thread holds at most one RunQueue lock at a time (a steal
# copies out under the victim's lock, then puts under its own).
#
# Garbage-collector parking (loop/handles.pyx): a SchedHandle is untracked
# from put() until a loop's run cycle lets it go, with the context copied
# for it; the references that take(), take_half() and put_many() move stay
# parked (they go to another queue or a ready queue, which expect that).
# A queue of 100k waiting SchedHandles thus costs the collector nothing;
# tracked, each collection traversed them all (and their contexts), which
# took most of the time of a flood. Whoever takes a handle out of the
# loops' queues for good (SchedCore.take_all, a refused put, dealloc)
# unparks it.

from cpython.ref cimport Py_INCREF, Py_DECREF
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy
from aioloop.includes.pthread cimport *
from aioloop.includes.atomics cimport *


@cython.final
cdef class SchedHandle(Handle):
    def cancel(self):
        # Whichever loop takes the handle reads the flag before running it
        # and clears the callback itself (see the class declaration).
        aio_store_flag(&self._cancelled, 1)

    def _repr_info(self):
        if self._loop is not None:
            return Handle._repr_info(self)
        # Not taken by a loop yet (queued, or dropped by a close): asyncio's
        # _repr_info asks the loop for its debug flag from Python 3.13 on.
        info = ['SchedHandle']
        if self._cancelled:
            info.append('cancelled')
        if self._callback is not None:
            if _format_callback_takes_debug:
                info.append(_format_callback_source(self._callback, self._args,
                                                    debug=False))
            else:
                info.append(_format_callback_source(self._callback, self._args))
        return info


cdef SchedHandle _new_sched_handle(object callback, tuple args, object context):
    if not PyCallable_Check(callback):
        raise TypeError(f'a callable object was expected, got {callback!r}')
    cdef SchedHandle h = SchedHandle.__new__(SchedHandle)
    h._callback = callback
    h._args = args
    _set_context(h, context, True)  # a copy is h's own: parked with it
    return h


cdef class RunQueue:
    def __cinit__(self, Py_ssize_t bound=0):
        if (pthread_mutex_init(&self.lock, NULL) != 0 or
                pthread_cond_init(&self.space, NULL) != 0):
            raise MemoryError()
        self.cap = 256
        self.head = 0
        self.count = 0
        self.bound = bound
        self.waiting = 0
        self.closed = 0
        self.buf = <PyObject **>malloc(sizeof(PyObject *) * self.cap)
        if self.buf == NULL:
            raise MemoryError()

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.buf != NULL:
            for i in range(self.count):
                _gc_release(self.buf[(self.head + i) & (self.cap - 1)])
            free(self.buf)
        pthread_cond_destroy(&self.space)
        pthread_mutex_destroy(&self.lock)

    cdef bint _grow_locked(self) noexcept nogil:
        cdef PyObject **grown = <PyObject **>malloc(
            sizeof(PyObject *) * self.cap * 2)
        cdef Py_ssize_t i
        if grown == NULL:
            return False
        for i in range(self.count):
            grown[i] = self.buf[(self.head + i) & (self.cap - 1)]
        free(self.buf)
        self.buf = grown
        self.head = 0
        self.cap *= 2
        return True

    cdef int _store_locked(self, PyObject *h) noexcept nogil:
        # 0 stored, 1 full (bound), 2 out of memory, 3 closed; lock held.
        if self.closed:
            return 3
        if self.bound and self.count >= self.bound:
            return 1
        if self.count == self.cap and not self._grow_locked():
            return 2
        self.buf[(self.head + self.count) & (self.cap - 1)] = h
        aio_store_ssize(&self.count, self.count + 1)
        return 0

    cdef int _put_locked(self, PyObject *h, bint outside) noexcept nogil:
        cdef int r = self._store_locked(h)
        if r == 0 and outside:
            self.n_put_outside += 1
        return r

    cdef int put(self, SchedHandle h, bint block) except -1:
        """Queue h (any thread). With a bound and `block`, wait for space
        (the GIL released); without `block`, a full queue raises."""
        cdef int r
        _gc_park(h)
        Py_INCREF(h)        # the queue's reference, dropped again if refused
        # Taken with the GIL held, as the inbox's lock: no holder of this lock
        # ever waits for the GIL (every critical section is nogil code), and
        # releasing the GIL per put would hand it to another thread each time.
        pthread_mutex_lock(&self.lock)
        if block and self.bound and self.count >= self.bound and not self.closed:
            # Full: wait for space without the GIL. The mutex is dropped
            # first, and dropped again before the GIL is taken back, so that
            # nobody waits for the GIL while holding it.
            pthread_mutex_unlock(&self.lock)
            with nogil:
                pthread_mutex_lock(&self.lock)
                while (not self.closed and self.count >= self.bound):
                    self.waiting += 1
                    pthread_cond_wait(&self.space, &self.lock)
                    self.waiting -= 1
                r = self._put_locked(<PyObject *>h, block)
                pthread_mutex_unlock(&self.lock)
        else:
            r = self._put_locked(<PyObject *>h, block)
            pthread_mutex_unlock(&self.lock)
        if r == 0:
            return 0
        Py_DECREF(h)
        _gc_unpark_refused(h)
        if r == 3:
            raise RuntimeError('scheduler is closed')
        if r == 1:
            raise RuntimeError(
                'the run queue is full (Scheduler max_pending); a dispatch '
                'thread does not wait for space, since two full threads '
                'waiting on each other would deadlock')
        raise MemoryError()

    cdef int put_many(self, PyObject **items, Py_ssize_t n) except -1:
        """Take over n owned references (stolen work): no bound applies, the
        work was accepted already."""
        cdef Py_ssize_t i
        cdef bint ok = True
        with nogil:
            pthread_mutex_lock(&self.lock)
            while self.count + n > self.cap:
                if not self._grow_locked():
                    ok = False
                    break
            if ok:
                for i in range(n):
                    self.buf[(self.head + self.count + i) & (self.cap - 1)] = items[i]
                aio_store_ssize(&self.count, self.count + n)
            pthread_mutex_unlock(&self.lock)
        if not ok:
            raise MemoryError()
        return 0

    cdef Py_ssize_t _pop_locked(self, PyObject **out, Py_ssize_t n) noexcept nogil:
        cdef Py_ssize_t i
        if n > self.count:
            n = self.count
        for i in range(n):
            out[i] = self.buf[self.head]
            self.buf[self.head] = NULL
            self.head = (self.head + 1) & (self.cap - 1)
        aio_store_ssize(&self.count, self.count - n)
        if n and self.waiting:
            pthread_cond_broadcast(&self.space)
        return n

    cdef Py_ssize_t take(self, PyObject **out, Py_ssize_t n) noexcept nogil:
        """Move up to n oldest items to `out` (owned references)."""
        if aio_load_ssize_relaxed(&self.count) == 0:
            return 0
        pthread_mutex_lock(&self.lock)
        n = self._pop_locked(out, n)
        pthread_mutex_unlock(&self.lock)
        return n

    cdef Py_ssize_t take_half(self, PyObject **out, Py_ssize_t n) noexcept nogil:
        """Steal: move half (rounded up, at most n) of the oldest items."""
        cdef Py_ssize_t k
        pthread_mutex_lock(&self.lock)
        k = (self.count + 1) // 2
        if k > n:
            k = n
        k = self._pop_locked(out, k)
        pthread_mutex_unlock(&self.lock)
        return k

    cdef Py_ssize_t size(self) noexcept nogil:
        return aio_load_ssize_relaxed(&self.count)

    cdef unsigned long long puts_outside(self) noexcept nogil:
        cdef unsigned long long n
        pthread_mutex_lock(&self.lock)
        n = self.n_put_outside
        pthread_mutex_unlock(&self.lock)
        return n

    cdef void close(self) noexcept:
        """Refuse further puts and release blocked producers (they raise)."""
        pthread_mutex_lock(&self.lock)
        self.closed = 1
        pthread_cond_broadcast(&self.space)
        pthread_mutex_unlock(&self.lock)
