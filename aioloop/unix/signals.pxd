cdef class SignalHandlers(FdWatcher):
    # The loop's signal handlers (add_signal_handler) and the socket their
    # signals arrive through. Loop thread only; handlers can only be added in
    # the main thread (signal.set_wakeup_fd's rule), so that is the loop's
    # thread whenever `handlers` is not empty.
    cdef:
        EventLoopCore _loop
        readonly dict handlers     # signal number -> Handle (asyncio's _signal_handlers)
        object _rsock              # watched by the poller (this FdWatcher's fd)
        object _wsock              # the process's wakeup fd while `_installed`
        bint _installed
        bint _pinned               # stays installed without handlers (see _wake_on_every_signal)
        int _prev_wakeup_fd        # what set_wakeup_fd() replaced, to restore
        object _prev_wakeup_id     # (st_dev, st_ino) of that fd when replaced

    cdef int _count_quiet(self) except -1
    cdef int _open(self) except -1
    cdef int _install(self) except -1
    cdef int _uninstall(self) except -1
    cdef int add(self, int sig, Handle handle) except -1
    cdef bint remove(self, int sig) except -1
    cdef int close(self) except -1
