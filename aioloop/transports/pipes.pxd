cdef class PipeTransport(FdTransport):
    # One end of a pipe, FIFO, character device (tty, pty) or socket handed
    # to connect_read_pipe()/connect_write_pipe(). Loop thread only. `_loop`,
    # `_pipe` and `_protocol` become None once connection_lost() has run.
    cdef:
        public object _pipe            # the file object given by the caller
        readonly object _fileno        # an int; None once the pipe is closed
        bint _lost_scheduled           # _call_connection_lost() is on its way
        bint _watch_peer               # FIFO or socket: the other end's close is reported

    cdef int _init(self, EventLoopCore loop, object pipe, object protocol,
                   object extra, bint for_write) except -1
    cdef int _start(self, object first_step, object waiter) except -1
    cdef int _schedule_connection_lost(self, object exc) except -1
    cdef int _release(self) except -1
    cdef int _repr_polling(self, list info) except -1
    cdef bint _settle(self) except -1


cdef class ReadPipeTransport(PipeTransport):
    # asyncio.ReadTransport over the read end.
    cdef int _read_ready(self) except -1


cdef class WritePipeTransport(PipeTransport):
    # asyncio.WriteTransport over the write end.
    cdef:
        int _conn_lost                 # writes attempted after a failure or close

    cdef int _peer_closed(self) except -1
    cdef Py_ssize_t _flush(self) except -2
    cdef int _write_ready(self) except -1
