cdef class PidfdWatch(FdWatcher):
    # One child process, watched through its pidfd on the loop's poller.
    # Loop thread only. `fd` is -1 once the child is reaped or the pidfd was
    # handed to an orphan reaper (loop.close()).
    cdef:
        EventLoopCore _loop
        readonly int pid
        object _popen              # the subprocess.Popen; its returncode is set on reap
        object _on_exit            # callback(returncode), run in the loop thread

    cdef int _close_pidfd(self) except -1
    cdef int _orphan(self) except -1
