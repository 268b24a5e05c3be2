# The Unix layer of the loop: signal handlers, read/write pipes, subprocesses.


cdef class UnixLoop(NetLoop):
    pass
