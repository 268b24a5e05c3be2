cdef class CycleHook:
    # What a layer above (the Scheduler) plugs into a Loop's run cycle. Every
    # method runs on the loop's own thread, inside _run_once; the default
    # does nothing. See loop/remote.pyx.
    cdef Py_ssize_t after_poll(self) except -1
    cdef bint has_work(self) noexcept
    cdef Py_ssize_t before_sleep(self) except -1
    cdef void after_sleep(self) noexcept


cdef class LoopRemote:
    # The narrow cross-thread handle of one Loop: the only thing of a Loop
    # that code outside the one-thread layer (the daemon pool, the Scheduler)
    # holds. Immutable after creation; thread-safe methods say so.
    cdef:
        EventLoopCore _loop     # never read through by another layer
        Inbox _inbox            # the loop's inbox (its own lock)
        Poller _poller          # for `polling` (an atomic) only

    cdef Handle post(self, object callback, tuple args, object context, bint defer_wake)
    cdef Handle call_threadsafe(self, object callback, tuple args, object context)
    cdef void pay_wake(self) noexcept nogil
    cdef int kick(self) noexcept nogil
    cdef bint polling(self) noexcept nogil
    cdef const int *polling_flag(self) noexcept nogil
    cdef bint is_sleeping(self) noexcept nogil
    cdef Py_ssize_t load(self) noexcept nogil
    cdef bint on_loop_thread(self) noexcept
    cdef bint runs_on(self, unsigned long tid) noexcept nogil
    cdef bint accepting(self) noexcept
    # Loop thread only:
    cdef int push_ready(self, Handle h) except -1
    cdef int set_hook(self, CycleHook hook) except -1
    cdef CycleHook hook(self)
