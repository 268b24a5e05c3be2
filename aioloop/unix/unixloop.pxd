cdef class UnixLoop(NetLoop):
    # Unix-only parts of the loop: signal handlers, pipes, subprocesses.
    # Loop thread only, like EventLoopCore.
    cdef:
        SignalHandlers _signals       # handlers + wakeup socket (unix/signals.pyx)
        readonly dict _children       # pid -> PidfdWatch of each running child
