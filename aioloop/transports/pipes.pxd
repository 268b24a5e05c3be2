cdef class PipeTransport(FdWatcher):
    # One end of a pipe, FIFO, character device (tty, pty) or socket handed
    # to connect_read_pipe()/connect_write_pipe(). Loop thread only. `_loop`,
    # `_pipe` and `_protocol` become None once connection_lost() has run.
    cdef:
        readonly NetLoop _loop
        public object _pipe            # the file object given by the caller
        readonly object _fileno        # an int; None once the pipe is closed
        object _protocol
        readonly dict _extra
        bint _closing                  # close(), write_eof(), EOF or an error began
        bint _lost_scheduled           # _call_connection_lost() is on its way
        object __weakref__
        # Instance attributes shadow methods, as on asyncio's Python
        # transports: tests and StreamReader users mock pause_reading() & co.
        # Pipes are not a hot path; the dict is made on first assignment.
        dict __dict__

    cdef int _init(self, NetLoop loop, object pipe, object protocol,
                   object extra) except -1
    cdef int _want(self, unsigned int events, bint on) except -1
    cdef int _schedule_connection_lost(self, object exc) except -1
    cdef int _release(self) except -1


cdef class ReadPipeTransport(PipeTransport):
    # asyncio.ReadTransport over the read end.
    cdef:
        bint _paused

    cdef int _read_ready(self) except -1
    cdef int _fatal_error(self, object exc, str message) except -1


cdef class WritePipeTransport(PipeTransport):
    # asyncio.WriteTransport over the write end. Write queue as in
    # StreamTransport: bytes objects in `_wq` from `_wq_head`, the first one
    # written up to `_wq_off`; `_wq_size` counts the bytes not yet written.
    cdef:
        bint _watch_peer               # FIFO or socket: EPOLLERR/EPOLLIN = reader gone
        int _conn_lost                 # writes attempted after a failure or close
        list _wq
        Py_ssize_t _wq_head
        Py_ssize_t _wq_off
        Py_ssize_t _wq_size
        Py_ssize_t _high_water
        Py_ssize_t _low_water
        bint _protocol_paused

    cdef int _peer_closed(self) except -1
    cdef int _queue(self, object data, Py_ssize_t offset) except -1
    cdef Py_ssize_t _flush(self) except -2
    cdef int _write_ready(self) except -1
    cdef int _clear_queue(self) except -1
    cdef int _maybe_pause_protocol(self) except -1
    cdef int _maybe_resume_protocol(self) except -1
    cdef int _fatal_error(self, object exc, str message) except -1
    cdef int _close(self, object exc) except -1
