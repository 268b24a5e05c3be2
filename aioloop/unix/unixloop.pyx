# The Unix layer of the loop: signal handlers, read/write pipes, subprocesses.
# Each concern lives in its own file (unix/signals.pyx, transports/pipes.pyx,
# unix/children.pyx, unix/subprocess.pyx); this class holds their per-loop
# state and the entry points asyncio calls, and orders their teardown.


cdef class UnixLoop(NetLoop):
    def __cinit__(self, *args, **kwargs):
        self._signals = _new_signal_handlers(self)
        self._children = {}

    # --- signals (unix/signals.pyx) ------------------------------------------

    @property
    def _signal_handlers(self):
        # asyncio's name: signal number -> Handle.
        return self._signals.handlers

    def add_signal_handler(self, sig, callback, *args):
        """Run callback(*args) as a loop callback (in the current context)
        each time signal `sig` arrives. Main thread only.

        Raises TypeError for a coroutine or a non-callable, TypeError/
        ValueError for an invalid signal, RuntimeError if the loop is closed,
        outside the main thread, or for a signal that cannot be caught
        (SIGKILL, SIGSTOP). Replaces an earlier handler of the same signal."""
        _add_signal_handler(self, sig, callback, args)

    def remove_signal_handler(self, sig):
        """Remove the handler of `sig`, restoring the default disposition
        (default_int_handler for SIGINT). Returns True if one was removed."""
        return _remove_signal_handler(self, sig)

    def _check_signal(self, sig):
        _check_signal(sig)

    def _wake_on_every_signal(self):
        """Make this loop the process's signal wakeup fd until it closes,
        with or without handlers (main thread only; RuntimeError elsewhere).

        For a loop that shares its process with other threads blocked in
        system calls (a Scheduler's dispatch threads): the kernel delivers a
        process-directed signal (Ctrl-C) to any thread that does not block
        it, and CPython then only sets a flag and writes the wakeup fd.
        Without that write this loop, asleep in epoll_wait, would not run the
        Python-level handler until some other event woke it. Blocking signals
        in the other threads instead would leak the blocked mask into every
        process they spawn (the mask survives fork and exec)."""
        cdef SignalHandlers signals = self._signals
        self._check_closed_c()
        signals._open()
        signals._install()
        signals._pinned = True

    # --- pipes (transports/pipes.pyx) ----------------------------------------

    def _make_read_pipe_transport(self, pipe, protocol, waiter=None, extra=None):
        self._check_closed_c()
        return _make_read_pipe(self, pipe, protocol, waiter, extra)

    def _make_write_pipe_transport(self, pipe, protocol, waiter=None, extra=None):
        self._check_closed_c()
        return _make_write_pipe(self, pipe, protocol, waiter, extra)

    # --- subprocesses (unix/subprocess.pyx, unix/children.pyx) ---------------

    def _make_subprocess_transport(self, protocol, args, shell, stdin, stdout,
                                   stderr, bufsize, extra=None, **kwargs):
        return _spawn_subprocess(self, protocol, args, shell, stdin, stdout,
                                 stderr, bufsize, extra, kwargs)

    # --- lifetime -------------------------------------------------------------

    def close(self):
        """Close the loop (see EventLoopCore.close), then release the Unix
        parts: children still running are left running but handed to reaper
        threads (unix/children.pyx), every signal handler is removed and the
        previous wakeup fd restored (unix/signals.pyx)."""
        if self._running:
            raise RuntimeError("Cannot close a running event loop")
        if self._closed:
            return
        # Children first, while the poller is still open to unregister them.
        for w in list(self._children.values()):
            (<PidfdWatch>w)._orphan()
        self._children.clear()
        try:
            NetLoop.close(self)
        finally:
            # After the base close, as asyncio: a signal handler can no longer
            # be scheduled by then.
            _close_signal_handlers(self)

    def stats(self):
        """EventLoopCore.stats() plus the children being watched and the
        signal handlers installed."""
        d = NetLoop.stats(self)
        d['children'] = len(self._children)
        d['signal_handlers'] = len(self._signals.handlers)
        return d
