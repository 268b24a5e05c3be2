cdef class StreamTransport(SocketTransport):
    # A connected SOCK_STREAM socket (TCP or Unix): asyncio.Transport.
    cdef:
        bint _eof               # write_eof() called
        bint _buffered          # the protocol is an asyncio.BufferedProtocol
        bint _big_reads         # the last read was large (see _read_ready)
        object _data_received   # bound protocol.data_received (or buffer_updated)
        object _get_buffer      # bound protocol.get_buffer (BufferedProtocol)
        object _empty_waiter    # sendfile: set when the write queue drains

    cdef int _read_ready(self) except -1
    cdef int _deliver(self, object data) except -1
    cdef int _read_ready_buffered(self) except -1
    cdef int _on_eof(self) except -1
    cdef int _write_ready(self) except -1
    cdef Py_ssize_t _flush(self) except -2
    cdef int _after_flush(self) except -1
