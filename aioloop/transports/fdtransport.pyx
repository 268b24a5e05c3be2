# FdTransport: the part of asyncio's transports that sockets and pipes share
# (selector_events._SelectorTransport, unix_events._UnixReadPipeTransport and
# _UnixWritePipeTransport agree on it): extra info, the protocol, the closing
# state, write flow control with its limits and messages, and what a fatal
# error does. Closing and teardown differ per kind and live with each kind
# (socket.pyx for sockets, pipes.pyx for pipes).

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_CheckExact
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from aioloop.includes.python cimport PyContext_CopyCurrent


cdef class FdTransport(FdWatcher):

    def __cinit__(self, *args, **kwargs):
        self._high_water = 64 * 1024
        self._low_water = 16 * 1024
        # Made by the loop's factories in the context of the call that asked
        # for the transport (create_connection, the server's accept, ...).
        self.context = PyContext_CopyCurrent()

    def __init__(self, *args, **kwargs):
        raise TypeError("transports are created by the event loop")

    # --- asyncio.BaseTransport -----------------------------------------------

    def get_extra_info(self, name, default=None):
        return self._extra.get(name, default)

    def is_closing(self):
        return self._closing

    cdef int _set_protocol(self, object protocol) except -1:
        self._protocol = protocol
        return 0

    def set_protocol(self, protocol):
        self._set_protocol(protocol)

    def get_protocol(self):
        return self._protocol

    # --- poller registration -------------------------------------------------

    cdef int _want_read(self, bint on) except -1:
        if self._loop is None or self._loop._closed:
            return 0
        self._loop._fdtable.set_mask(self, (self.mask | EPOLLIN) if on else (self.mask & ~EPOLLIN))
        return 0

    cdef int _want_write(self, bint on) except -1:
        if self._loop is None or self._loop._closed:
            return 0
        self._loop._fdtable.set_mask(self, (self.mask | EPOLLOUT) if on else (self.mask & ~EPOLLOUT))
        return 0

    # --- asyncio.ReadTransport and asyncio.WriteTransport --------------------
    # Written once here; the subclasses that read or write expose them under
    # asyncio's names (`pause_reading = FdTransport._pause_reading`), as a
    # read pipe has no write buffer and a write pipe reads nothing: neither
    # answers the other's methods, as on asyncio.

    def _is_reading(self):
        return not self._closing and not self._paused

    def _pause_reading(self):
        if self._closing or self._paused:
            return
        self._paused = True
        self._want_read(False)
        if self._loop._debug:
            _logger.debug("%r pauses reading", self)

    def _resume_reading(self):
        if self._closing or not self._paused:
            return
        self._paused = False
        self._want_read(True)
        if self._loop._debug:
            _logger.debug("%r resumes reading", self)

    def _start_reading(self):
        # Scheduled right after connection_made(), which may have paused or
        # closed the transport.
        if not self._closing and not self._paused:
            self._want_read(True)

    def _get_write_buffer_size(self):
        return self._write_buffer_size()

    def _get_write_buffer_limits(self):
        return (self._low_water, self._high_water)

    def _set_write_buffer_limits(self, high=None, low=None):
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(
                f'high ({high!r}) must be >= low ({low!r}) must be >= 0')
        self._high_water = high
        self._low_water = low
        self._maybe_pause_protocol()

    # --- the write path ------------------------------------------------------
    # write() of a socket and of a pipe differ in what they refuse first
    # (write_eof(), sendfile, a lost connection), in the system call and in
    # their error messages; the rest is this one fast path. A transport that
    # writes has a WriteQueue in `_wq` and defines the three hooks below.

    @cython.final
    cdef inline int _write(self, object data) except -1:
        """Send data now; queue what the kernel did not take (EPOLLOUT is
        then registered until the queue drains). Behind queued data nothing
        is sent: order is kept. The caller has checked that data is
        bytes-like and that the transport may still write."""
        cdef ssize_t n
        cdef Py_ssize_t total
        cdef int err
        cdef Py_buffer view
        if self._wq.size:
            if len(data):
                if type(data) is memoryview and not data.c_contiguous:
                    return self._queue_gapped_view(data)
                self._wq.push(data, 0)
                self._maybe_pause_protocol()
            return 0
        if PyBytes_CheckExact(data):
            total = PyBytes_GET_SIZE(data)
            if total == 0:
                return 0
            n = self._write_syscall(PyBytes_AS_STRING(data), total)
            err = errno
        else:
            try:
                PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
            except BufferError as exc:
                # A memoryview with gaps (view[::2]): asyncio's sock.send()
                # and os.write() fail on it, and that is a fatal write error.
                return self._write_error(exc)
            try:
                if view.len == 0:
                    return 0
                total = view.len
                n = self._write_syscall(<const char *>view.buf, view.len)
                err = errno
            finally:
                PyBuffer_Release(&view)
        if n < 0:
            if err != EAGAIN and err != EINTR:
                return self._write_error(_make_oserror(err))
            n = 0
        if n == total:
            return 0
        self._wq.push(data, n)
        self._want_write(True)
        self._maybe_pause_protocol()
        return 0

    cdef ssize_t _write_syscall(self, const char *buf, Py_ssize_t size) noexcept:
        """The kernel's write for this kind of fd; errno is read after it."""
        return -1

    cdef int _write_error(self, object exc) except -1:
        """A write failed (not EAGAIN/EINTR): fail the transport."""
        raise NotImplementedError

    cdef int _queue_gapped_view(self, object data) except -1:
        """write() of a memoryview with gaps behind queued data."""
        raise NotImplementedError

    # --- write flow control --------------------------------------------------

    cdef Py_ssize_t _write_buffer_size(self):
        return 0        # what a transport with a write buffer overrides

    cdef int _clear_write_buffer(self) except -1:
        return 0

    cdef int _maybe_pause_protocol(self) except -1:
        if self._write_buffer_size() <= self._high_water or self._protocol_paused:
            return 0
        self._protocol_paused = True
        try:
            self._protocol.pause_writing()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._call_exception_handler('protocol.pause_writing() failed', exc)
        return 0

    cdef int _maybe_resume_protocol(self) except -1:
        if not self._protocol_paused or self._write_buffer_size() > self._low_water:
            return 0
        self._protocol_paused = False
        try:
            self._protocol.resume_writing()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._call_exception_handler('protocol.resume_writing() failed', exc)
        return 0

    # --- errors --------------------------------------------------------------

    cdef int _call_exception_handler(self, str message, object exc) except -1:
        self._loop.call_exception_handler({
            'message': message,
            'exception': exc,
            'transport': self,
            'protocol': self._protocol,
        })
        return 0

    cdef int _fatal_error(self, object exc, str message) except -1:
        if isinstance(exc, OSError):
            # A reset connection or a reader gone (EPIPE) is the peer's
            # business, not a bug: asyncio only logs it in debug mode.
            if self._loop._debug:
                _logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self._call_exception_handler(message, exc)
        return self._force_close(exc)

    cdef int _write_failed(self, object exc, str message) except -1:
        # A write or writev() of queued data failed (not EAGAIN/EINTR): as on
        # asyncio, for sockets and pipes alike, the queue is dropped, EPOLLOUT
        # no longer watched, and the transport closes through _fatal_error().
        self._clear_write_buffer()
        self._want_write(False)
        return self._fatal_error(exc, message)

    # cpdef, not cdef: asyncio's SSLProtocol calls transport._force_close(exc)
    # on the transport under it when the handshake fails or the TLS shutdown
    # times out (sslproto.SSLProtocol._fatal_error, _check_shutdown_timeout).
    cpdef int _force_close(self, object exc) except -1:
        """Close now, dropping what is queued; connection_lost(exc) follows.
        Each kind of transport defines it."""
        raise NotImplementedError
