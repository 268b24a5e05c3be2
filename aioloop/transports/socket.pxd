cdef class SocketTransport(FdTransport):
    # State shared by stream and datagram socket transports: the socket, the
    # server, reading state and close/abort. Loop thread only. `_loop` and
    # `_sock` become None once connection_lost() has run.
    cdef:
        readonly object _sock
        readonly int _sock_fd
        bint _protocol_connected
        object _server
        int _conn_lost         # >0 once connection_lost is scheduled

    cdef int _init(self, EventLoopCore loop, object sock, object protocol,
                   object extra, object server) except -1
    cdef bint admits_readers(self)
