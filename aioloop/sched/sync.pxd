from cpython.object cimport PyObject
from aioloop.includes.pthread cimport pthread_mutex_t


cdef struct _Ring:
    # A FIFO of owned references (growable ring buffer). Guarded by the
    # mutex of the object that holds it.
    PyObject **items
    Py_ssize_t cap, head, count


cdef class _Waiter:
    # One waiter of a primitive: an awaiter (loop, fut) or a callback-style
    # task (task, args, hint). `state` is guarded by the owner's mutex.
    cdef object loop
    cdef object fut
    cdef object task
    cdef tuple args
    cdef object hint
    cdef int state


cdef class _Sync:
    # Base of the four primitives: the mutex and where callback-style tasks
    # run (home_sched / home_loop: written once, None -> object, under mu).
    cdef pthread_mutex_t mu
    cdef object __weakref__
    cdef object home_sched
    cdef object home_loop
    cdef int bind_home(self) except -1
    cdef int check_home(self) except -1
    cdef int run_task(self, object fn, tuple args, object hint) except -1
    cdef int leave(self, _Waiter w, _Ring *ring, Py_ssize_t *gone) except -1


cdef class TaskBarrier(_Sync):
    cdef int _mode
    cdef Py_ssize_t _n, _total          # _total -1: unbounded
    cdef object _task, _hint
    cdef Py_ssize_t _count, _trips
    cdef bint _spent
    cdef _Ring _waiters
    cdef Py_ssize_t _gone
    cdef int _signal(self, int method, _Waiter also) except -1


cdef class TaskLock(_Sync):
    cdef object _hint
    cdef bint _locked
    cdef _Ring _queue
    cdef Py_ssize_t _gone
    cdef int _grant_task(self, _Waiter w) except -1


cdef class Queue(_Sync):
    cdef Py_ssize_t _maxsize
    cdef _Ring _items, _getters, _putters, _joiners
    cdef Py_ssize_t _ggone, _pgone, _jgone
    cdef Py_ssize_t _unfinished
    cdef bint _ready(self, int kind) noexcept
    cdef int _wake_one(self, PyObject *p) except -1


cdef class Event(_Sync):
    cdef bint _flag
    cdef _Ring _waiters
    cdef Py_ssize_t _gone
