@cython.final
cdef class WriteQueue:
    # The bytes a stream or pipe transport could not write at once, in order:
    # bytes objects in `items` from index `head`, the first of them already
    # written up to `offset`; `size` counts the bytes not yet written. The
    # owning transport's loop thread only.
    cdef:
        list items              # None until something is queued
        Py_ssize_t head
        Py_ssize_t offset
        Py_ssize_t size

    cdef int push(self, object data, Py_ssize_t written) except -1
    cdef Py_ssize_t write_to(self, int fd, int *err) except -2
    cdef int clear(self) except -1
