cdef class SocketTransport(FdWatcher):
    # State shared by stream and datagram socket transports: the socket, the
    # protocol, extra info, close/abort, and write flow control. Loop thread
    # only. `_loop` and `_sock` become None once connection_lost() has run.
    cdef:
        readonly NetLoop _loop
        readonly object _sock
        readonly int _sock_fd
        object _protocol
        bint _protocol_connected
        readonly dict _extra
        object _server
        bint _closing          # close() or a fatal error began
        bint _paused           # pause_reading()
        int _conn_lost         # >0 once connection_lost is scheduled
        Py_ssize_t _high_water
        Py_ssize_t _low_water
        # Read by asyncio's loop.sendfile() fallback
        # (base_events._SendfileFallbackProtocol).
        readonly bint _protocol_paused
        object __weakref__     # asyncio's Server (3.13) keeps a WeakSet of clients

    cdef int _init(self, NetLoop loop, object sock, object protocol,
                   object extra, object server) except -1
    cdef int _want_read(self, bint on) except -1
    cdef int _want_write(self, bint on) except -1
    cdef Py_ssize_t _write_buffer_size(self)
    cdef bint _has_pending_writes(self)
    cdef int _clear_write_buffer(self) except -1
    cdef int _maybe_pause_protocol(self) except -1
    cdef int _maybe_resume_protocol(self) except -1
    cdef int _fatal_error(self, object exc, str message) except -1
    cpdef int _force_close(self, object exc) except -1
    cdef bint admits_readers(self)
    cdef int _set_protocol(self, object protocol) except -1
