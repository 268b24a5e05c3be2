# Stream transports (TCP and Unix sockets): the read path and the write path.
#
# Read: one recv() per readiness event into the loop's shared buffer, then
# data_received(bytes) with exactly the bytes that arrived; for a
# BufferedProtocol, recv() straight into protocol.get_buffer().
# Write: write() sends at once; only what the kernel refused is queued (in a
# WriteQueue, writequeue.pyx), and the queue is flushed with writev() when
# EPOLLOUT fires. EPOLLOUT is registered only while the queue is non-empty.

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_CheckExact
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_WRITABLE, PyBUF_SIMPLE
from aioloop.includes.sockets cimport *

cdef object _BufferedProtocol = _asyncio.BufferedProtocol
cdef object _set_result_unless_cancelled = _asyncio.futures._set_result_unless_cancelled
cdef object _SendfileMode = _constants._SendfileMode

# What isinstance() sees (transports/socket.pyx): asyncio's socket transports
# are transports._FlowControlMixin instances, and loop.sendfile()'s
# read/write fallback (base_events._SendfileFallbackProtocol) refuses any
# other transport.
class _StreamTransportClass(_asyncio.transports._FlowControlMixin, _asyncio.Transport):
    __slots__ = ()
_StreamTransportClass.__name__ = _StreamTransportClass.__qualname__ = 'StreamTransport'

# asyncio's socket transport queues memoryviews from 3.12 on (a bytearray
# before): what a memoryview with gaps does to write() depends on it.
cdef bint _QUEUE_HOLDS_VIEWS = _sys.version_info >= (3, 12)


cdef int _write_gapped_view(StreamTransport t, object data) except -1:
    # write() of a memoryview with gaps (view[::2]) behind queued data.
    # asyncio 3.11 appends it to its bytearray buffer, which refuses it; 3.12+
    # queue the view itself and fail the transport when sendmsg() reaches it,
    # dropping what was queued with it. We fail it at once: the same error,
    # connection_lost(BufferError) and lost data, only sooner.
    cdef Py_buffer view
    if not _QUEUE_HOLDS_VIEWS:
        raise TypeError("can't set bytearray slice from memoryview")
    try:
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    except BufferError as exc:
        t._fatal_error(exc, 'Fatal write error on socket transport')
        return 0
    PyBuffer_Release(&view)
    raise AssertionError('not a memoryview with gaps')

cdef enum:
    # Reads at least this large switch a transport to sizing the next read
    # with FIONREAD and receiving into the final bytes object (no copy).
    _BIG_READ = 16 * 1024


cdef class StreamTransport(SocketTransport):

    _start_tls_compatible = True
    _sendfile_compatible = _SendfileMode.TRY_NATIVE

    def __cinit__(self, *args, **kwargs):
        self._wq = WriteQueue.__new__(WriteQueue)

    def _asyncio_class(self):
        return _StreamTransportClass

    cdef int _set_protocol(self, object protocol) except -1:
        SocketTransport._set_protocol(self, protocol)
        self._buffered = isinstance(protocol, _BufferedProtocol)
        if self._buffered:
            self._get_buffer = protocol.get_buffer
            self._data_received = protocol.buffer_updated
        else:
            self._get_buffer = None
            self._data_received = protocol.data_received
        return 0

    # --- reading -------------------------------------------------------------

    cdef int dispatch(self, uint32_t events) except -1:
        if self.mask & EPOLLIN and events & ~EPOLLOUT:
            if self._buffered:
                self._read_ready_buffered()
            else:
                self._read_ready()
        if self.mask & EPOLLOUT and events & ~EPOLLIN:
            self._write_ready()
        return 0

    cdef int _read_ready(self) except -1:
        cdef ssize_t n
        cdef int err, avail = 0
        cdef object data
        if self._conn_lost:
            return 0
        if self._big_reads and ioctl(self._sock_fd, FIONREAD, &avail) == 0 and avail > 0:
            # Large messages: recv straight into a bytes object of the size
            # the kernel has queued, sparing a copy out of the shared buffer
            # (at 100 KiB that copy costs far more than the ioctl).
            if avail > self._loop._recv_buf_size:
                avail = <int>self._loop._recv_buf_size
            data = PyBytes_FromStringAndSize(NULL, avail)
            n = recv(self._sock_fd, PyBytes_AS_STRING(data), avail, 0)
            if n > 0:
                if n < avail:
                    data = data[:n]
                self._big_reads = n >= _BIG_READ
                return self._deliver(data)
            # Nothing after all (or an error): take the ordinary path.
        n = recv(self._sock_fd, self._loop._recv_buf, self._loop._recv_buf_size, 0)
        if n < 0:
            err = errno
            if err == EAGAIN or err == EINTR:
                return 0
            self._fatal_error(_make_oserror(err), 'Fatal read error on socket transport')
            return 0
        if n == 0:
            return self._on_eof()
        self._big_reads = n >= _BIG_READ
        return self._deliver(PyBytes_FromStringAndSize(self._loop._recv_buf, n))

    cdef int _deliver(self, object data) except -1:
        try:
            self._data_received(data)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal error: protocol.data_received() call failed.')
        return 0

    cdef int _read_ready_buffered(self) except -1:
        cdef Py_buffer view
        cdef ssize_t n
        cdef int err
        if self._conn_lost:
            return 0
        try:
            buf = self._get_buffer(-1)
            if not len(buf):
                raise RuntimeError('get_buffer() returned an empty buffer')
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal error: protocol.get_buffer() call failed.')
            return 0
        try:
            PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            # Not a writable buffer (bytes, a read-only memoryview, ...): a
            # bug in the protocol, which asyncio reports as a fatal read
            # error with socket.recv_into()'s own exception. Raising from
            # here instead would leave the transport open and readable, and
            # a level-triggered poller would report it again on every pass.
            try:
                self._sock.recv_into(buf)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, 'Fatal read error on socket transport')
                return 0
            raise   # recv_into() took it after all: not a case we know
        try:
            n = recv(self._sock_fd, view.buf, view.len, 0)
            err = errno
        finally:
            PyBuffer_Release(&view)
        if n < 0:
            if err == EAGAIN or err == EINTR:
                return 0
            self._fatal_error(_make_oserror(err), 'Fatal read error on socket transport')
            return 0
        if n == 0:
            return self._on_eof()
        try:
            self._data_received(n)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal error: protocol.buffer_updated() call failed.')
        return 0

    cdef int _on_eof(self) except -1:
        if self._loop._debug:
            _logger.debug("%r received EOF", self)
        try:
            keep_open = self._protocol.eof_received()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal error: protocol.eof_received() call failed.')
            return 0
        if keep_open:
            # Half-closed: the protocol may still write, but nothing more
            # will be read.
            self._want_read(False)
        else:
            self.close()
        return 0

    # --- writing -------------------------------------------------------------

    def write(self, data):
        """Send data now; queue what the kernel does not take. Never blocks."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f'data argument must be a bytes-like object, '
                            f'not {type(data).__name__!r}')
        if self._eof:
            raise RuntimeError('Cannot call write() after write_eof()')
        if self._empty_waiter is not None:
            raise RuntimeError('unable to write; sendfile is in progress')
        if self._conn_lost:
            if len(data) == 0:
                return
            if self._conn_lost >= _LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                _logger.warning('socket.send() raised exception.')
            self._conn_lost += 1
            return
        self._write(data)      # FdTransport's fast path, with the hooks below

    cdef ssize_t _write_syscall(self, const char *buf, Py_ssize_t size) noexcept:
        # MSG_NOSIGNAL: a reset peer gives EPIPE, not SIGPIPE.
        return send(self._sock_fd, buf, size, MSG_NOSIGNAL)

    cdef int _write_error(self, object exc) except -1:
        return self._fatal_error(exc, 'Fatal write error on socket transport')

    cdef int _queue_gapped_view(self, object data) except -1:
        return _write_gapped_view(self, data)

    def writelines(self, list_of_data):
        """Write an iterable of bytes-like objects, without joining them."""
        if self._eof:
            raise RuntimeError('Cannot call writelines() after write_eof()')
        if self._empty_waiter is not None:
            raise RuntimeError('unable to writelines; sendfile is in progress')
        cdef bint was_empty = self._wq.size == 0
        # Check every item before queueing any: a bad one must leave nothing
        # half-queued (asyncio builds its memoryviews first), or the queue
        # would hold data with EPOLLOUT never armed, and the connection stall.
        items = list_of_data if type(list_of_data) is list else list(list_of_data)
        gap = -1     # the first memoryview with gaps (view[::2]), if any
        for i, data in enumerate(items):
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f'data argument must be a bytes-like object, '
                                f'not {type(data).__name__!r}')
            if gap < 0 and type(data) is memoryview and not data.c_contiguous:
                gap = i
        if gap >= 0 and not _QUEUE_HOLDS_VIEWS:
            # 3.11: WriteTransport.writelines() is b''.join(list_of_data).
            raise TypeError(f'sequence item {gap}: expected a bytes-like object, '
                            f'memoryview found')
        if self._conn_lost:
            return
        if gap >= 0:
            # 3.12+: the sendmsg() of the queue fails at once (writelines()
            # flushes): nothing is sent and the transport fails.
            _write_gapped_view(self, items[gap])
            return
        for data in items:
            if len(data):
                self._wq.push(data, 0)
        if self._conn_lost or self._wq.size == 0:
            return
        if was_empty:
            # One writev() for the lot; register for EPOLLOUT only if the
            # kernel did not take everything.
            if self._flush() < 0:
                return
            if self._wq.size:
                self._want_write(True)
        self._maybe_pause_protocol()

    cdef Py_ssize_t _flush(self) except -2:
        """writev() as much of the queue as the kernel takes. Returns bytes
        sent, or -1 after a fatal error (the transport is then closing)."""
        cdef int err
        cdef Py_ssize_t n = self._wq.write_to(self._sock_fd, &err)
        if n >= 0:
            return n
        exc = _make_oserror(err)
        self._write_failed(exc, 'Fatal write error on socket transport')
        if self._empty_waiter is not None:
            self._empty_waiter.set_exception(exc)
        return -1

    cdef int _write_ready(self) except -1:
        if self._conn_lost:
            return 0
        if self._flush() < 0:
            return 0
        return self._after_flush()

    cdef int _after_flush(self) except -1:
        self._maybe_resume_protocol()   # may write more
        if self._wq.size:
            return 0
        self._want_write(False)
        if self._empty_waiter is not None:
            self._empty_waiter.set_result(None)
        if self._closing:
            self._call_connection_lost(None)
        elif self._eof:
            self._sock.shutdown(_socket.SHUT_WR)
        return 0

    cdef Py_ssize_t _write_buffer_size(self):
        return self._wq.size

    cdef int _clear_write_buffer(self) except -1:
        return self._wq.clear()

    def write_eof(self):
        """Shut down the sending side once the queue drains (SHUT_WR)."""
        if self._closing or self._eof:
            return
        self._eof = True
        if not self._wq.size:
            self._sock.shutdown(_socket.SHUT_WR)

    def can_write_eof(self):
        return True

    # --- sendfile support (loop.sendfile) ------------------------------------

    def _call_connection_lost(self, exc):
        # loop.sendfile() may be waiting for the write queue to drain
        # (_make_empty_waiter); a connection lost meanwhile (abort(), a
        # fatal error) must fail it as asyncio does, or it waits forever.
        # A failed writev() has already failed it with its own error.
        try:
            SocketTransport._call_connection_lost(self, exc)
        finally:
            waiter = self._empty_waiter
            if waiter is not None and not waiter.done():
                waiter.set_exception(ConnectionError("Connection is closed by peer"))

    def _make_empty_waiter(self):
        if self._empty_waiter is not None:
            raise RuntimeError("Empty waiter is already set")
        self._empty_waiter = self._loop.create_future()
        if not self._wq.size:
            self._empty_waiter.set_result(None)
        return self._empty_waiter

    def _reset_empty_waiter(self):
        self._empty_waiter = None
