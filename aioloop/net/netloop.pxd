cdef class SockWait


cdef class NetLoop(EventLoopCore):
    # Network methods of the loop (sock_*, DNS, connections, servers,
    # datagrams, TLS). Loop thread only, like EventLoopCore.
    cdef int _check_sock(self, object sock) except -1
    cdef SockWait _sock_wait(self, object sock, int kind, object arg, Py_ssize_t sent)


@cython.final
cdef class SockWait:
    # One sock_recv, sock_recv_into or sock_sendall whose syscall would have
    # blocked: the fd's reader (sendall: writer) callback, retrying the
    # syscall on each readiness until `fut` is done. Loop thread only.
    cdef:
        NetLoop loop
        object fut
        object sock
        object arg              # recv: the size; recv_into: the buffer; sendall: a memoryview of the data
        Py_ssize_t sent         # sendall: bytes of `arg` already sent
        int kind                # _SOCK_RECV, _SOCK_RECV_INTO or _SOCK_SENDALL
        int fd
        Handle handle           # the fd's callback while the wait is on; None after done()

    cdef int done(self) except -1
