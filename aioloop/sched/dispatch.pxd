cdef class DispatchHook(CycleHook):
    # Plugs one dispatch thread's RunQueue into its Loop's run cycle. Every
    # method runs on that loop's thread (CycleHook's contract), except where
    # a field says otherwise.
    cdef:
        SchedCore core          # immutable
        int index               # immutable
        RunQueue q              # immutable reference
        LoopRemote remote       # immutable
        # Set to 1 by another thread that woke this one to steal on behalf
        # of the whole scheduler (it counted one searcher in core.nsearching
        # for it); exchanged back to 0 by this thread's next pass, which
        # then releases that count. Atomic.
        int search_token
        # Statistics. Written by this loop's thread only (plain), read by
        # any thread through stats() (a torn read is impossible for an
        # aligned 64-bit word on the platforms we build for; values may be
        # stale).
        unsigned long long n_taken
        unsigned long long n_stolen
        unsigned long long n_steal_attempts
        unsigned long long n_sleeps

    cdef int _adopt(self, PyObject **items, Py_ssize_t n) except -1
    cdef Py_ssize_t _steal(self) except -1


cdef class SchedCore:
    # The shared part of one Scheduler: placement, stealing and wake-ups.
    # Thread contract:
    #   n, hooks, queues, remotes   immutable after attach() of every loop,
    #                               which happens before any loop runs
    #   nsearching   atomic: threads looking for work to steal, plus tokens
    #                handed to threads woken to steal (see DispatchHook)
    #   closed       atomic flag: submissions refused (shutdown has begun);
    #                stealing stops so that each loop drains its own queue
    #   fork_gen     immutable: the fork generation it was made in
    cdef:
        int n
        list hooks
        list queues
        # &queues[j].count for every j (immutable, like `queues`, which
        # keeps the RunQueues alive): an idle loop's checks for queued work
        # read them without a list access per queue.
        Py_ssize_t **counts
        list remotes
        int nsearching
        int closed
        # atomic: submissions between their `closed` check and their
        # enqueue; the shutdown waits for 0 after setting `closed`, so that
        # nothing is enqueued behind its drain
        int inflight
        Py_ssize_t bound
        unsigned long fork_gen

    cdef bint any_queued(self) noexcept
    cdef int notify_one(self, int from_index) except -1
    cdef int least_loaded(self) noexcept
    cdef int caller_index(self) noexcept
    cdef Handle sched(self, object fn, tuple args, object hint, object context,
                      int caller)
    cdef SchedHandle _submit(self, object callback, tuple args, object context,
                             int caller)


cdef class SchedulerBase:
    # The C part of a Scheduler (scheduler.py): its SchedCore, set once by
    # Scheduler.__init__ before the Scheduler is shared, then immutable.
    cdef public SchedCore _core
