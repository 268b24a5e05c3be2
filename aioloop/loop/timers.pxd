from cpython.object cimport PyObject

cdef class TimerHeap:
    # Binary min-heap of TimerHandles keyed by (when, seq). Cancelled timers
    # stay in the heap (lazy deletion) until they reach the top or until more
    # than half the heap is cancelled, when it is compacted. Loop thread only.
    cdef:
        PyObject **heap
        Py_ssize_t size
        Py_ssize_t cap
        Py_ssize_t cancelled    # cancelled handles still in the heap
        unsigned long long next_seq

    cdef void _sift_up(self, Py_ssize_t i) noexcept
    cdef void _sift_down(self, Py_ssize_t i) noexcept
    cdef int push(self, TimerHandle t) except -1
    cdef TimerHandle pop(self)
    cdef inline TimerHandle top(self)
    cdef int drop_cancelled_top(self) except -1
    cdef int maybe_compact(self) except -1
    cdef void clear(self) noexcept
