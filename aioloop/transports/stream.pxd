cdef class StreamTransport(SocketTransport):
    # A connected SOCK_STREAM socket (TCP or Unix): asyncio.Transport.
    # Write queue: bytes objects in `_wq` from index `_wq_head`, the first of
    # them already sent up to `_wq_off`; `_wq_size` counts unsent bytes.
    cdef:
        bint _eof               # write_eof() called
        bint _buffered          # the protocol is an asyncio.BufferedProtocol
        bint _big_reads         # the last read was large (see _read_ready)
        object _data_received   # bound protocol.data_received (or buffer_updated)
        object _get_buffer      # bound protocol.get_buffer (BufferedProtocol)
        list _wq
        Py_ssize_t _wq_head
        Py_ssize_t _wq_off
        Py_ssize_t _wq_size
        object _empty_waiter    # sendfile: set when the write queue drains

    cdef int _read_ready(self) except -1
    cdef int _deliver(self, object data) except -1
    cdef int _read_ready_buffered(self) except -1
    cdef int _on_eof(self) except -1
    cdef int _write_ready(self) except -1
    cdef int _queue(self, object data, Py_ssize_t offset) except -1
    cdef Py_ssize_t _flush(self) except -2
    cdef int _after_flush(self) except -1
