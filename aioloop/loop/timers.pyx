# The timer heap. Ordering: earliest deadline first; equal deadlines in the
# order they were scheduled (asyncio's heapq gives no such guarantee; FIFO is
# the stronger promise and is what a user reading call_at() expects).

from cpython.ref cimport Py_INCREF, Py_XDECREF
from libc.stdlib cimport malloc, realloc, free

cdef enum:
    # As asyncio: compact only heaps of a useful size, once more than half of
    # their entries are cancelled.
    _MIN_COMPACT_SIZE = 100


cdef inline bint _before(PyObject *a, PyObject *b) noexcept:
    # Borrowed pointers: no reference counting on the sift paths.
    cdef double wa = (<TimerHandle>a)._when
    cdef double wb = (<TimerHandle>b)._when
    if wa != wb:
        return wa < wb
    return (<TimerHandle>a)._seq < (<TimerHandle>b)._seq


cdef class TimerHeap:
    def __cinit__(self):
        self.cap = 256
        self.size = 0
        self.cancelled = 0
        self.next_seq = 0
        self.heap = <PyObject **>malloc(sizeof(PyObject *) * self.cap)
        if self.heap == NULL:
            raise MemoryError()

    def __dealloc__(self):
        self.clear()
        free(self.heap)
        self.heap = NULL

    def __len__(self):
        return self.size

    cdef void _sift_up(self, Py_ssize_t i) noexcept:
        cdef PyObject *item = self.heap[i]
        cdef Py_ssize_t parent
        while i > 0:
            parent = (i - 1) >> 1
            if _before(item, self.heap[parent]):
                self.heap[i] = self.heap[parent]
                i = parent
            else:
                break
        self.heap[i] = item

    cdef void _sift_down(self, Py_ssize_t i) noexcept:
        cdef PyObject *item = self.heap[i]
        cdef Py_ssize_t child, n = self.size
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and _before(self.heap[child + 1], self.heap[child]):
                child += 1
            if _before(self.heap[child], item):
                self.heap[i] = self.heap[child]
                i = child
            else:
                break
        self.heap[i] = item

    cdef int push(self, TimerHandle t) except -1:
        cdef PyObject **nh
        if self.size == self.cap:
            nh = <PyObject **>realloc(self.heap, sizeof(PyObject *) * self.cap * 2)
            if nh == NULL:
                _gc_unpark_refused(t)
                raise MemoryError()
            self.heap = nh
            self.cap *= 2
        t._seq = self.next_seq
        self.next_seq += 1
        t._scheduled = True
        Py_INCREF(t)
        self.heap[self.size] = <PyObject *>t
        self.size += 1
        self._sift_up(self.size - 1)
        return 0

    cdef inline TimerHandle top(self):
        return <TimerHandle>self.heap[0]

    cdef TimerHandle pop(self):
        # Caller checks size > 0. The heap's reference moves to the caller.
        cdef PyObject *p = self.heap[0]
        self.size -= 1
        if self.size > 0:
            self.heap[0] = self.heap[self.size]
            self._sift_down(0)
        cdef TimerHandle t = <TimerHandle>p
        Py_XDECREF(p)
        t._scheduled = False
        if t._cancelled:
            self.cancelled -= 1
        return t

    cdef int drop_cancelled_top(self) except -1:
        """Pop cancelled timers off the top, so top() is a live timer or the
        heap is empty."""
        while self.size > 0 and (<TimerHandle>self.heap[0])._cancelled:
            _gc_unpark(self.pop())
        return 0

    cdef int maybe_compact(self) except -1:
        if self.size < _MIN_COMPACT_SIZE or self.cancelled * 2 <= self.size:
            return 0
        cdef Py_ssize_t i, j = 0, n = self.size
        cdef TimerHandle t
        cdef list dropped = []
        for i in range(n):
            t = <TimerHandle>self.heap[i]
            if t._cancelled:
                t._scheduled = False
                # Keep the heap's reference alive in `dropped` until the heap
                # is consistent again: dropping it may run arbitrary code.
                dropped.append(t)
                Py_XDECREF(self.heap[i])
            else:
                self.heap[j] = self.heap[i]
                j += 1
        self.size = j
        self.cancelled = 0
        i = (j >> 1) - 1
        while i >= 0:
            self._sift_down(i)
            i -= 1
        for t in dropped:
            _gc_unpark(t)
        return 0

    cdef void clear(self) noexcept:
        cdef Py_ssize_t i, n = self.size
        cdef PyObject **old = self.heap
        cdef PyObject **fresh = <PyObject **>malloc(sizeof(PyObject *) * 256)
        if fresh == NULL:
            return  # keep everything rather than leave a heap half-freed
        self.heap = fresh
        self.cap = 256
        self.size = 0
        self.cancelled = 0
        for i in range(n):
            (<TimerHandle>old[i])._scheduled = False
            _gc_release(old[i])
        free(old)
