# CPython C-API entries that Cython's own cpython/*.pxd do not declare.

cdef extern from "Python.h":
    # Enter/exit a contextvars.Context without the bound-method call and the
    # argument tuple that Context.run(callback, *args) costs.
    int PyContext_Enter(object ctx) except -1
    int PyContext_Exit(object ctx) except -1
    object PyContext_CopyCurrent()

    unsigned long PyThread_get_thread_ident()

    ctypedef void *PyThread_type_lock
    PyThread_type_lock PyThread_allocate_lock()
    void PyThread_free_lock(PyThread_type_lock)
    int PyThread_acquire_lock(PyThread_type_lock, int waitflag) nogil
    void PyThread_release_lock(PyThread_type_lock) nogil
    enum:
        WAIT_LOCK
