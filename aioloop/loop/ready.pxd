from cpython.object cimport PyObject

cdef class ReadyQueue:
    # FIFO of Handles ready to run: a growable ring buffer of owned references.
    # Loop thread only.
    cdef:
        PyObject **buf
        Py_ssize_t cap        # always a power of two
        Py_ssize_t head
        Py_ssize_t count

    cdef int _grow(self) except -1
    cdef int push(self, Handle h) except -1
    cdef int push_obj(self, object o) except -1   # a Handle or an FdWatcher
    cdef object pop(self)
    cdef void clear(self) noexcept
