# The ready queue: Handles that run in the next pass of the run cycle.
# asyncio uses a deque; a ring buffer of raw pointers avoids its per-block
# allocation and the Python-level append/popleft calls.

from cpython.ref cimport Py_INCREF, Py_XDECREF
from libc.stdlib cimport malloc, free


cdef class ReadyQueue:
    def __cinit__(self):
        self.cap = 1024
        self.head = 0
        self.count = 0
        self.buf = <PyObject **>malloc(sizeof(PyObject *) * self.cap)
        if self.buf == NULL:
            raise MemoryError()

    def __dealloc__(self):
        self.clear()
        free(self.buf)
        self.buf = NULL

    def __len__(self):
        return self.count

    cdef int _grow(self) except -1:
        cdef Py_ssize_t i, newcap = self.cap * 2
        cdef PyObject **nb = <PyObject **>malloc(sizeof(PyObject *) * newcap)
        if nb == NULL:
            raise MemoryError()
        for i in range(self.count):
            nb[i] = self.buf[(self.head + i) & (self.cap - 1)]
        free(self.buf)
        self.buf = nb
        self.cap = newcap
        self.head = 0
        return 0

    cdef int push(self, Handle h) except -1:
        return self.push_obj(h)

    cdef int push_obj(self, object o) except -1:
        if self.count == self.cap:
            try:
                self._grow()
            except MemoryError:
                _gc_unpark_refused(o)
                raise
        Py_INCREF(o)
        self.buf[(self.head + self.count) & (self.cap - 1)] = <PyObject *>o
        self.count += 1
        return 0

    cdef object pop(self):
        # Caller checks count > 0. The queue's reference moves to the caller.
        cdef PyObject *p = self.buf[self.head]
        self.head = (self.head + 1) & (self.cap - 1)
        self.count -= 1
        cdef object o = <object>p
        Py_XDECREF(p)
        return o

    cdef void clear(self) noexcept:
        # Detach first: a handle's destructor may run arbitrary code that
        # touches this queue.
        cdef PyObject **old = self.buf
        cdef Py_ssize_t i, head = self.head, n = self.count, cap = self.cap
        if n == 0:
            return
        self.count = 0
        self.head = 0
        self.buf = <PyObject **>malloc(sizeof(PyObject *) * cap)
        if self.buf == NULL:
            # Out of memory: keep the old array as storage; it is emptied below
            # before anything can push into it again (no Python code ran yet).
            self.buf = old
            for i in range(n):
                p = old[(head + i) & (cap - 1)]
                old[(head + i) & (cap - 1)] = NULL
                _gc_release(p)
            return
        for i in range(n):
            _gc_release(old[(head + i) & (cap - 1)])
        free(old)
