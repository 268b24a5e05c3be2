cdef class NetLoop(EventLoopCore):
    # Network methods of the loop (sock_*, DNS, connections, servers,
    # datagrams, TLS). Loop thread only, like EventLoopCore.
    cdef:
        # One receive buffer per loop, shared by its stream transports: a
        # read lands here and only the bytes that arrived are copied out.
        char *_recv_buf
        Py_ssize_t _recv_buf_size
