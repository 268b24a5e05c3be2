# Pipe transports: connect_read_pipe() and connect_write_pipe() over pipes,
# FIFOs, character devices (ttys, ptys) and sockets. Semantics, messages and
# callback order follow asyncio's _UnixReadPipeTransport and
# _UnixWritePipeTransport (unix_events.py); the read and write paths are C.
# What they share with socket transports (flow control, fatal errors) is
# FdTransport's (fdtransport.pyx); the write queue is a WriteQueue
# (writequeue.pyx), as a stream transport's.
#
# Kernel facts that shape this file:
# - A pipe's read end reports EPOLLIN for data and EPOLLHUP once every writer
#   has closed (read() then returns 0: EOF). A pty master whose slave side
#   closed reports EPOLLHUP too, but read() fails with EIO instead of
#   returning 0; asyncio treats that EIO as an ordinary end (logged in debug
#   mode only) and so do we.
# - A pipe's write end never reports EPOLLIN. Once every reader has closed,
#   epoll reports EPOLLERR on it (whatever mask was asked for) and write()
#   fails with EPIPE (Python ignores SIGPIPE, so no signal kills us). So the
#   write transport keeps the fd registered for EPOLLIN even when it has
#   nothing to write, as asyncio keeps a reader on it: the only event that
#   can arrive is the reader's close, and it is reported at once instead of
#   at the next write. For a socket used as a pipe, EPOLLIN means the peer
#   sent data or closed; asyncio takes either as "closed by peer", as here.
# - Character devices get no such watch (asyncio: only FIFOs and sockets):
#   a tty's write side has no "reader closed" event; errors surface on write.
# - /dev/null and other devices without a poll method cannot be registered
#   with epoll (EPERM). Writes to them never block, so a write transport never
#   needs to register; a read transport fails to start as on asyncio.
# - The descriptor is switched to non-blocking mode, which is a property of
#   the open file description: a child sharing the same description (an
#   inherited stdin, say) sees it too. asyncio does the same.


from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_CheckExact
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from aioloop.includes.linux cimport read as _c_read, write as _c_write, EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP

cdef object _set_result_unless_cancelled_p = _asyncio.futures._set_result_unless_cancelled

cdef enum:
    _PIPE_MAX_READ = 256 * 1024      # asyncio's max_size: bytes read per event
    _EIO = 5
    # _settle(): reads at most this many times (64 MiB, far above any pipe's
    # capacity), so a writer that never stops cannot keep the loop inside it.
    _SETTLE_MAX_READS = 256


cdef int _poll_now(int fd) except -1:
    # The events pending on fd right now (poll(2) with no wait). POLLERR and
    # POLLHUP are reported whatever is asked for.
    p = _select.poll()
    p.register(fd, _select.POLLIN)
    ready = p.poll(0)
    return ready[0][1] if ready else 0


cdef int _check_pipe_mode(object mode, bint for_write) except -1:
    if _stat.S_ISFIFO(mode) or _stat.S_ISSOCK(mode) or _stat.S_ISCHR(mode):
        return 0
    if for_write:
        raise ValueError("Pipe transport is only for "
                         "pipes, sockets and character devices")
    raise ValueError("Pipe transport is for pipes/sockets only.")


cdef class PipeTransport(FdTransport):

    cdef int _init(self, EventLoopCore loop, object pipe, object protocol,
                   object extra, bint for_write) except -1:
        self._extra = {} if extra is None else extra
        self._extra['pipe'] = pipe
        self._fileno = pipe.fileno()
        self._loop = loop
        self._pipe = pipe
        self._protocol = protocol
        self.fd = self._fileno
        try:
            mode = _os.fstat(self._fileno).st_mode
            _check_pipe_mode(mode, for_write)
            self._watch_peer = _stat.S_ISFIFO(mode) or _stat.S_ISSOCK(mode)
            _os.set_blocking(self._fileno, False)
            loop._fdtable.attach(self)
        except BaseException:
            # The pipe stays the caller's: this transport must not close it.
            self._pipe = None
            self._fileno = None
            self._protocol = None
            raise
        return 0

    cdef int _start(self, object first_step, object waiter) except -1:
        # first_step (reading, or watching the reader) waits until
        # connection_made() has run, as on asyncio.
        self._loop.call_soon(self._protocol.connection_made, self)
        self._loop.call_soon(first_step)
        if waiter is not None:
            self._loop.call_soon(_set_result_unless_cancelled_p, waiter, None)
        return 0

    # --- teardown ----------------------------------------------------------------

    cpdef int _force_close(self, object exc) except -1:
        # asyncio's _close(): drop what is queued, stop watching the pipe,
        # and schedule connection_lost(exc).
        self._closing = True
        if self._write_buffer_size():
            self._want_write(False)
            self._clear_write_buffer()
        self._want_read(False)
        return self._schedule_connection_lost(exc)

    cdef int _schedule_connection_lost(self, object exc) except -1:
        if self._lost_scheduled:
            return 0
        self._lost_scheduled = True
        if self._loop is None or self._loop._closed:
            # Nothing can run connection_lost() any more: asyncio would fail
            # in call_soon() here (CPython gh-114177). Release the pipe now.
            self._release()
            self._protocol = None
            self._loop = None
            return 0
        self._loop.call_soon(self._call_connection_lost, exc)
        return 0

    def _call_connection_lost(self, exc):
        try:
            if self._protocol is not None:
                self._protocol.connection_lost(exc)
        finally:
            self._release()
            self._protocol = None
            self._loop = None

    cdef int _release(self) except -1:
        # Unregister before closing: epoll would otherwise keep reporting the
        # open description under a number the process may reuse.
        loop = self._loop
        if loop is not None and not loop._closed:
            loop._fdtable.detach(self)
        pipe = self._pipe
        if pipe is not None:
            self._pipe = None
            pipe.close()
        return 0

    def __del__(self):
        if self._pipe is not None:
            _warnings.warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self._release()

    def __repr__(self):
        # asyncio's: what the pipe is polled for while the loop watches it.
        info = [type(self).__name__]
        if self._pipe is None:
            info.append('closed')
        elif self._closing:
            info.append('closing')
        info.append(f'fd={self._fileno}')
        if self._pipe is not None and self._loop is not None and not self._loop._closed:
            self._repr_polling(info)
        elif self._pipe is not None:
            info.append('open')
        else:
            info.append('closed')
        return '<{}>'.format(' '.join(info))

    cdef int _repr_polling(self, list info) except -1:
        return 0

    cdef bint _settle(self) except -1:
        """The process at the other end has exited (unix/subprocess.pyx):
        deliver now what the pipe already says, without waiting for the
        poller. True when the pipe's end is known (connection_lost() is on
        its way), False when it stays open: another process (a grandchild)
        holds the other end, or reading is paused."""
        return self._lost_scheduled


cdef class ReadPipeTransport(PipeTransport):

    max_size = _PIPE_MAX_READ

    @property
    def __class__(self):
        return _asyncio.ReadTransport

    cdef int _repr_polling(self, list info) except -1:
        info.append('polling' if self.mask & EPOLLIN else 'idle')
        return 0

    # asyncio.ReadTransport (fdtransport.pyx)
    is_reading = FdTransport._is_reading
    pause_reading = FdTransport._pause_reading
    resume_reading = FdTransport._resume_reading

    def close(self):
        if not self._closing:
            self._force_close(None)

    cdef int dispatch(self, uint32_t events) except -1:
        # EPOLLHUP/EPOLLERR come with or without EPOLLIN: read() tells which.
        if self.mask & EPOLLIN and events & ~EPOLLOUT:
            self._read_ready()
        return 0

    cdef bint _settle(self) except -1:
        # Whatever the exited writer wrote is in the pipe already: read it
        # (data_received) up to EOF, or until the pipe is empty while another
        # writer keeps it open, or until the protocol pauses reading.
        cdef int i
        for i in range(_SETTLE_MAX_READS):
            if self._lost_scheduled or not (self.mask & EPOLLIN):
                break
            if not _poll_now(self.fd):
                break
            self._read_ready()
        return self._lost_scheduled

    cdef int _read_ready(self) except -1:
        cdef ssize_t n
        cdef int err
        cdef EventLoopCore loop = self._loop
        cdef int fd = self.fd
        n = _c_read(fd, loop._recv_buf, min(loop._recv_buf_size, <Py_ssize_t>_PIPE_MAX_READ))
        if n < 0:
            err = errno
            if err == EAGAIN or err == EINTR:
                return 0
            return self._fatal_error(_make_oserror(err), 'Fatal read error on pipe transport')
        if n == 0:
            # Every writer closed. eof_received()'s answer is not asked:
            # a pipe cannot be half-closed from this end.
            if loop._debug:
                _logger.info("%r was closed by peer", self)
            self._closing = True
            self._want_read(False)
            loop.call_soon(self._protocol.eof_received)
            return self._schedule_connection_lost(None)
        data = PyBytes_FromStringAndSize(loop._recv_buf, n)
        try:
            self._protocol.data_received(data)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            # asyncio's reader callback would fail here: the loop's exception
            # handler reports it and the transport keeps reading.
            self._call_exception_handler(
                'Exception in protocol.data_received() of pipe transport', exc)
        return 0

    cdef int _fatal_error(self, object exc, str message) except -1:
        # Unlike FdTransport's, only EIO passes quietly (asyncio's read pipe).
        if isinstance(exc, OSError) and exc.errno == _EIO:
            # A pty whose other side closed: an end, not a bug.
            if self._loop._debug:
                _logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self._call_exception_handler(message, exc)
        return self._force_close(exc)


# What isinstance() sees: asyncio's _UnixWritePipeTransport is a
# transports._FlowControlMixin, hence an asyncio.Transport, ReadTransport half
# included.
class _WritePipeTransportClass(_asyncio.transports._FlowControlMixin,
                               _asyncio.WriteTransport):
    __slots__ = ()
_WritePipeTransportClass.__name__ = _WritePipeTransportClass.__qualname__ = 'WritePipeTransport'


cdef class WritePipeTransport(PipeTransport):

    def __cinit__(self, *args, **kwargs):
        self._wq = WriteQueue.__new__(WriteQueue)

    @property
    def __class__(self):
        return _WritePipeTransportClass

    # The ReadTransport half asyncio's write pipe inherits: its methods raise
    # NotImplementedError (asyncio.ReadTransport's own functions).
    is_reading = _asyncio.ReadTransport.is_reading
    pause_reading = _asyncio.ReadTransport.pause_reading
    resume_reading = _asyncio.ReadTransport.resume_reading

    cdef int _repr_polling(self, list info) except -1:
        info.append('polling' if self.mask & EPOLLOUT else 'idle')
        info.append(f'bufsize={self._wq.size}')
        return 0

    def _start_watching_peer(self):
        # Scheduled after connection_made(), as asyncio adds its reader.
        if self._watch_peer and not self._lost_scheduled:
            self._want_read(True)

    cdef int dispatch(self, uint32_t events) except -1:
        # The reader's close first, as asyncio's selector runs the reader
        # callback before the writer callback for one EPOLLERR.
        if self.mask & EPOLLIN and events & ~EPOLLOUT:
            return self._peer_closed()
        if self.mask & EPOLLOUT:
            return self._write_ready()
        return 0

    cdef bint _settle(self) except -1:
        # The child was reading the other end. If nobody else holds it, the
        # kernel already reports the reader's close (POLLERR): take it now.
        if (not self._lost_scheduled and self._pipe is not None and self._watch_peer
                and _poll_now(self.fd) & (_select.POLLERR | _select.POLLHUP)):
            self._peer_closed()
        return self._lost_scheduled

    cdef int _peer_closed(self) except -1:
        if self._loop._debug:
            _logger.info("%r was closed by peer", self)
        return self._force_close(BrokenPipeError() if self._wq.size else None)

    # --- writing -------------------------------------------------------------------

    def write(self, data):
        """Write data now; queue what the pipe does not take. Never blocks.
        After close(), write_eof() or a failure, data is dropped (a warning
        is logged once writes keep coming), as asyncio does."""
        cdef Py_ssize_t total
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f'data argument must be a bytes-like object, '
                            f'not {type(data).__name__!r}')
        if PyBytes_CheckExact(data):
            total = PyBytes_GET_SIZE(data)
        else:
            total = memoryview(data).nbytes
        if total == 0:
            return
        if self._conn_lost or self._closing:
            if self._conn_lost >= _LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                _logger.warning('pipe closed by peer or '
                                'os.write(pipe, data) raised exception.')
            self._conn_lost += 1
            return
        self._write(data)      # FdTransport's fast path, with the hooks below

    cdef ssize_t _write_syscall(self, const char *buf, Py_ssize_t size) noexcept:
        return _c_write(self.fd, buf, size)

    cdef int _write_error(self, object exc) except -1:
        self._conn_lost += 1
        return self._fatal_error(exc, 'Fatal write error on pipe transport')

    cdef int _queue_gapped_view(self, object data) except -1:
        # asyncio's bytearray buffer refuses a memoryview with gaps.
        raise TypeError("can't concat memoryview to bytearray")

    def writelines(self, list_of_data):
        """Write an iterable of bytes-like objects (joined, as asyncio's
        WriteTransport.writelines does: one write() for them all)."""
        self.write(b''.join(list_of_data))

    cdef Py_ssize_t _flush(self) except -2:
        """writev() as much of the queue as the pipe takes. Returns bytes
        written, or -1 after a fatal error (the transport is then closing)."""
        cdef int err
        cdef Py_ssize_t n = self._wq.write_to(self.fd, &err)
        if n >= 0:
            return n
        self._conn_lost += 1
        self._write_failed(_make_oserror(err), 'Fatal write error on pipe transport')
        return -1

    cdef int _write_ready(self) except -1:
        if not self._wq.size:
            return 0
        if self._flush() < 0 or self._wq.size:
            return 0
        # Only a drained queue resumes the protocol, as on asyncio (a
        # socket transport resumes as soon as it is down to _low_water).
        self._want_write(False)
        self._maybe_resume_protocol()   # may write (and queue) more
        if self._closing and not self._wq.size:
            # close()/write_eof() waited for the queue to drain.
            self._want_read(False)
            self._lost_scheduled = True
            self._call_connection_lost(None)
        return 0

    cdef Py_ssize_t _write_buffer_size(self):
        return self._wq.size

    cdef int _clear_write_buffer(self) except -1:
        return self._wq.clear()

    def can_write_eof(self):
        return True

    def write_eof(self):
        """Close the write end once the queue drains; connection_lost(None)
        follows. The reader then sees EOF."""
        if self._closing:
            return
        self._closing = True
        if not self._wq.size:
            self._want_read(False)
            self._schedule_connection_lost(None)

    def close(self):
        """Same as write_eof(): a pipe's write end has nothing else to close."""
        if self._pipe is not None and not self._closing:
            self.write_eof()

    def abort(self):
        """Close now, dropping queued data; connection_lost(None) follows."""
        self._force_close(None)

    # --- asyncio.WriteTransport's flow control (fdtransport.pyx) --------------

    get_write_buffer_size = FdTransport._get_write_buffer_size
    get_write_buffer_limits = FdTransport._get_write_buffer_limits
    set_write_buffer_limits = FdTransport._set_write_buffer_limits


# --- factories (the loop's _make_read_pipe_transport & co.) --------------------

cdef ReadPipeTransport _make_read_pipe(EventLoopCore loop, object pipe, object protocol,
                                       object waiter, object extra):
    cdef ReadPipeTransport t = ReadPipeTransport.__new__(ReadPipeTransport)
    t._init(loop, pipe, protocol, extra, False)
    t._start(t._start_reading, waiter)
    return t


cdef WritePipeTransport _make_write_pipe(EventLoopCore loop, object pipe, object protocol,
                                         object waiter, object extra):
    cdef WritePipeTransport t = WritePipeTransport.__new__(WritePipeTransport)
    t._init(loop, pipe, protocol, extra, True)
    t._start(t._start_watching_peer, waiter)
    return t
