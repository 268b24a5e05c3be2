from cpython.object cimport PyObject
from aioloop.includes.pthread cimport pthread_mutex_t, pthread_cond_t


cdef struct _Slot:
    PyObject *job           # an owned reference to a _Job
    const int *poll_flag    # the submitting loop's Poller.polling, or NULL


cdef class _Job:
    # One call for the pool. `loop` is the LoopRemote of the loop whose
    # asyncio future `fut` gets the result (run_in_executor), or None when
    # `fut` is a concurrent.futures.Future (submit()).
    cdef object loop
    cdef object fut
    cdef object func
    cdef tuple args
    cdef dict kwargs


cdef class _DaemonQueue:
    # The pool's FIFO of _Jobs and its idle threads. Every field below the
    # lock is guarded by it; the critical sections never call into Python.
    cdef:
        pthread_mutex_t lock
        pthread_cond_t cond         # idle threads wait here for work or shutdown
        _Slot *items                # ring buffer
        Py_ssize_t head, count, cap
        int idle                    # threads waiting on cond
        int nthreads                # threads started and not yet exited
        int starting                # of those, counted by put() but not yet in `threads`
        int max_workers             # immutable after init
        bint shutdown
        # threading.Condition over a Lock: guards `threads` and starting
        # them; notified whenever `starting` drops (close() waits for 0).
        object threads_cond
        list threads                # threading.Thread objects (under threads_cond)
        str name_prefix             # immutable after init
        object initializer          # immutable after init
        tuple initargs              # immutable after init
        object broken               # None, or the BrokenThreadPool message

    cdef int put(self, _Job job, const int *poll_flag) except -1
    cdef PyObject *take(self, const int **poll_flag) noexcept nogil
    cdef _Slot _pop_locked(self) noexcept nogil
    cdef list drain(self)
    cdef void _reinit_after_fork(self) noexcept
    cdef _start_thread(self)
    cdef LoopRemote _run(self, _Job job)
    cdef bint _run_initializer(self) except -1
