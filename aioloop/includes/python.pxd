# CPython C-API entries that Cython's own cpython/*.pxd do not declare.

from cpython.object cimport PyObject

cdef extern from "Python.h":
    object PyContext_CopyCurrent()
    # Enter/exit a contextvars.Context without the bound-method call and the
    # argument tuple that Context.run(callback, *args) costs, on a borrowed
    # pointer (no reference counting): the run cycle enters a handle's or a
    # transport's context around each callback or readiness event.
    int _PyContext_Enter_ptr "PyContext_Enter"(PyObject *) except -1
    int _PyContext_Exit_ptr "PyContext_Exit"(PyObject *) except -1

    unsigned long PyThread_get_thread_ident()

    # callable(*args) without the tuple round trip of PyObject_Call: the
    # tuple's items are passed in place (the run cycle's callback call).
    object PyObject_Vectorcall(object callable, PyObject **args,
                               size_t nargsf, PyObject *kwnames)

cdef extern from *:
    """
    #define aio_tuple_items(t) (((PyTupleObject *)(t))->ob_item)
    """
    PyObject **aio_tuple_items(tuple t)

    void PyObject_GC_Track(object)
    void PyObject_GC_UnTrack(object)
    int PyObject_GC_IsTracked(object)
    Py_ssize_t Py_REFCNT(object)
    # The same on borrowed pointers (no reference taken).
    Py_ssize_t _Py_REFCNT_ptr "Py_REFCNT"(PyObject *)
    int _PyObject_GC_IsTracked_ptr "PyObject_GC_IsTracked"(PyObject *)
    void _PyObject_GC_Track_ptr "PyObject_GC_Track"(void *)

    ctypedef void *PyThread_type_lock
    PyThread_type_lock PyThread_allocate_lock()
    void PyThread_free_lock(PyThread_type_lock)
    int PyThread_acquire_lock(PyThread_type_lock, int waitflag) nogil
    void PyThread_release_lock(PyThread_type_lock) nogil
    enum:
        WAIT_LOCK
