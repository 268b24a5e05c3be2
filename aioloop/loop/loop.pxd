from libc.stdint cimport uint32_t

cdef class EventLoopCore:
    # The one-thread loop. Thread contract (as tokio documents its worker):
    # every field is read and written only by the thread running the loop
    # (or, while it is not running, by the one thread that owns it), except:
    #   _inbox           read by any thread (immutable reference); its queue
    #                    is guarded by its own mutex (loop/inbox.pyx)
    #   _closed          written by the owner (close()), read by any thread
    #                    with an atomic load (a stale read only decides which
    #                    RuntimeError a poster gets: the inbox refuses posts
    #                    under its lock once closed)
    #   _running, _tid   written by the loop thread with atomic stores around
    #                    run_forever(); read by any thread with atomic loads
    #                    (call_soon_threadsafe, Handle.cancel, LoopRemote)
    #   _debug           written by set_debug() on the owner; read elsewhere
    #                    with an atomic load (it only decides how much checking
    #                    a poster does)
    #   _published_load  written by the loop thread once per pass (relaxed
    #                    atomic store), read by any thread (a placement hint)
    #   _remote          immutable after creation: the LoopRemote handle
    #   _wall_ns         written by the loop thread once per pass while
    #                    _wall_cache is on (relaxed atomic store), read by any
    #                    thread (aio.now(): a cached time of day)
    # Nothing outside the one-thread layer (loop/, net/, unix/, transports/)
    # touches these fields: other layers hold a LoopRemote.
    cdef:
        Poller _poller
        ReadyQueue _ready
        TimerHeap _timers
        Inbox _inbox
        FdTable _fdtable              # fd -> FdWatcher (loop/fdtable.pyx)
        public bint _debug
        public bint _closed
        public bint _stopping
        bint _running
        unsigned long _tid            # thread running the loop, 0 if none
        unsigned long _fork_gen       # fork generation at creation
        public object _current_handle
        # The empty Context callbacks without one of their own run in
        # (loop/handles.pyx, "Lazy contexts"); None until first needed.
        object _spare_ctx
        public object _exception_handler
        public object _task_factory
        public object _default_executor
        public object _executor_shutdown_called
        public object _asyncgens
        public object _asyncgens_shutdown_called
        public object _coroutine_origin_tracking_enabled
        public object _coroutine_origin_tracking_saved_depth
        public double slow_callback_duration
        double _clock_resolution
        # One receive buffer per loop, shared by its transports (socket and
        # pipe) and sock_recv(): a read lands here and only the bytes that
        # arrived are copied out. Loop thread only.
        char *_recv_buf
        Py_ssize_t _recv_buf_size
        bint _recv_big         # the last sock_recv got >= _RECV_DIRECT_MIN bytes
        # An instance attribute `time` was set: mock.patch.object(loop,
        # 'time') replaced the clock (see _clock_is_ours in loop.pyx).
        bint _time_on_instance
        object _old_agen_hooks
        CycleHook _hook               # the layer above's cycle hook, or None
        LoopRemote _remote
        Py_ssize_t _published_load
        # Registered fds whose readiness only matters to a loop about to
        # sleep, so that a pass with nothing to wait for need not poll them:
        # the signal socket while no handler reads it (unix/signals.pyx).
        Py_ssize_t _n_quiet_fds
        # A call_soon/call_later from a thread other than the running
        # loop's raises: always on free-threaded builds (it would write an
        # unsynchronised ring), and on every build for a Scheduler's loops.
        bint _strict_thread
        # counters (loop.stats())
        unsigned long long _n_callbacks
        unsigned long long _n_polls
        unsigned long long _n_io_events
        unsigned long long _n_timers
        # Passes of the run cycle; read by the callbacks of a pass (the
        # aio one-shot I/O layer tells an event polled before a re-arm from
        # one polled after it). Loop thread only.
        readonly unsigned long long _n_passes
        # libaio's `now`: CLOCK_REALTIME read once per pass, after the poll,
        # while _wall_cache is on (aio turns it on for its loops); in ns.
        bint _wall_cache
        Py_ssize_t _wall_ns
        unsigned long long _n_wall_reads

    cdef inline int _check_closed_c(self) except -1
    cdef int _check_owner_thread(self, str method) except -1
    cdef inline LoopRemote remote(self):
        return self._remote
    cdef int _check_fork(self) except -1
    cdef double _now(self) except? -1.0
    cdef void _cache_wall_clock(self) noexcept
    cdef Handle _make_handle(self, Handle h, object callback, tuple args, object context, str method, bint scheduling=*)
    cdef int _run_handle(self, Handle h) except -1
    cdef int _report_callback_error(self, Handle h, BaseException exc) except -1
    cdef int _run_once(self) except -1
    cdef int _dispatch_io(self, FdWatcher w, uint32_t events) except -1
    cdef int _timer_cancelled(self, TimerHandle t) except -1
    cdef TimerHandle _call_at(self, double when, object callback, tuple args, object context, str method)
    cdef void _release_spare(self, Handle h) noexcept
    cdef Handle _call_soon_threadsafe(self, object callback, tuple args, object context)
    cdef Handle _post_threadsafe(self, object callback, tuple args, object context, bint defer_wake)
    cdef _add_fd_callback(self, fileobj, bint reading, callback, tuple args)
