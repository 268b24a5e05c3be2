cdef class UnixLoop(NetLoop):
    # Unix-only methods of the loop: signal handlers, pipes, subprocesses.
    pass
