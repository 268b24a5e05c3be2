cdef class NetLoop(EventLoopCore):
    # Network methods of the loop (sock_*, DNS, connections, servers,
    # datagrams, TLS). Loop thread only, like EventLoopCore.
    pass
