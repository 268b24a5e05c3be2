# Socket transports: the state and lifecycle that stream (TCP, Unix) and
# datagram transports share. Semantics follow asyncio's selector transports
# (selector_events._SelectorTransport): the same close/abort/connection_lost
# rules, messages and flow-control limits.
#
# isinstance(transport, asyncio.Transport) holds through __class__, the hook
# unittest.mock uses: asyncio's transport classes are Python classes with
# __slots__, which an extension type cannot inherit from (instance layout
# conflict), and wrapping ours in a Python class would add a Python call to
# every write().

import socket as _socket
import asyncio.trsock as _trsock
import asyncio.constants as _aio_constants
import inspect as _inspect

cdef object _TransportSocket = _trsock.TransportSocket
cdef int _LOG_THRESHOLD_FOR_CONNLOST_WRITES = _aio_constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES
# Server._attach()/_detach() take the transport from Python 3.13 on.
cdef bint _server_tracks_transports = len(_inspect.signature(_base_events.Server._attach).parameters) == 2


cdef class SocketTransport(FdWatcher):
    def __init__(self, *args, **kwargs):
        raise TypeError("transports are created by the event loop")

    cdef int _init(self, NetLoop loop, object sock, object protocol,
                   object extra, object server) except -1:
        self._loop = loop
        self._sock = sock
        self._sock_fd = sock.fileno()
        self.fd = self._sock_fd
        self._extra = {} if extra is None else dict(extra)
        self._extra['socket'] = _TransportSocket(sock)
        try:
            self._extra['sockname'] = sock.getsockname()
        except OSError:
            self._extra['sockname'] = None
        if 'peername' not in self._extra:
            try:
                self._extra['peername'] = sock.getpeername()
            except OSError:
                self._extra['peername'] = None
        self._set_protocol(protocol)
        self._server = server
        self._closing = False
        self._paused = False
        self._conn_lost = 0
        self._high_water = 64 * 1024
        self._low_water = 16 * 1024
        self._protocol_paused = False
        loop._fd_attach(self)
        if server is not None:
            if _server_tracks_transports:
                server._attach(self)
            else:
                server._attach()
        return 0

    # --- asyncio.BaseTransport -----------------------------------------------

    @property
    def __class__(self):
        return self._asyncio_class()

    def _asyncio_class(self):
        return _asyncio.Transport

    def get_extra_info(self, name, default=None):
        return self._extra.get(name, default)

    def is_closing(self):
        return self._closing

    cdef bint admits_readers(self):
        # asyncio refuses add_reader() & co. on a transport's fd only while
        # it is not closing (selector_events._ensure_fd_no_transport).
        return self._closing

    cdef int _set_protocol(self, object protocol) except -1:
        self._protocol = protocol
        self._protocol_connected = True
        return 0

    def set_protocol(self, protocol):
        self._set_protocol(protocol)

    def get_protocol(self):
        return self._protocol

    def close(self):
        """Close after the write buffer drains; connection_lost(None) follows
        on a later pass. Idempotent."""
        if self._closing:
            return
        self._closing = True
        self._want_read(False)
        if not self._has_pending_writes():
            self._conn_lost += 1
            self._want_write(False)
            self._loop.call_soon(self._call_connection_lost, None)

    def abort(self):
        """Close now, dropping buffered data; connection_lost(None) follows."""
        self._force_close(None)

    def __del__(self):
        if self._sock is not None:
            _warnings.warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            if self._loop is not None and not self._loop._closed:
                self._loop._fd_detach(self)
            self._sock.close()
            self._sock = None
            if self._server is not None:
                if _server_tracks_transports:
                    self._server._detach(self)
                else:
                    self._server._detach()

    def __repr__(self):
        info = [type(self).__name__]
        if self._sock is None:
            info.append('closed')
        elif self._closing:
            info.append('closing')
        info.append(f'fd={self._sock_fd}')
        if self._loop is not None and not self._loop._closed:
            info.append('read=polling' if self.mask & EPOLLIN else 'read=idle')
            state = 'polling' if self.mask & EPOLLOUT else 'idle'
            info.append(f'write=<{state}, bufsize={self._write_buffer_size()}>')
        return '<{}>'.format(' '.join(info))

    # --- asyncio.ReadTransport -----------------------------------------------

    def is_reading(self):
        return not self._closing and not self._paused

    def pause_reading(self):
        if self._closing or self._paused:
            return
        self._paused = True
        self._want_read(False)
        if self._loop._debug:
            _logger.debug("%r pauses reading", self)

    def resume_reading(self):
        if self._closing or not self._paused:
            return
        self._paused = False
        self._want_read(True)
        if self._loop._debug:
            _logger.debug("%r resumes reading", self)

    def _start_reading(self):
        # Scheduled right after connection_made(), which may have paused us.
        if not self._closing and not self._paused and self._loop is not None:
            self._want_read(True)

    # --- write flow control (asyncio.transports._FlowControlMixin) -----------

    def get_write_buffer_size(self):
        return self._write_buffer_size()

    def get_write_buffer_limits(self):
        return (self._low_water, self._high_water)

    def set_write_buffer_limits(self, high=None, low=None):
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

    cdef int _maybe_pause_protocol(self) except -1:
        if self._write_buffer_size() <= self._high_water or self._protocol_paused:
            return 0
        self._protocol_paused = True
        try:
            self._protocol.pause_writing()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler({
                'message': 'protocol.pause_writing() failed',
                'exception': exc,
                'transport': self,
                'protocol': self._protocol,
            })
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
            self._loop.call_exception_handler({
                'message': 'protocol.resume_writing() failed',
                'exception': exc,
                'transport': self,
                'protocol': self._protocol,
            })
        return 0

    # --- poller registration -------------------------------------------------

    cdef int _want_read(self, bint on) except -1:
        if self._loop is None or self._loop._closed:
            return 0
        self._loop._fd_set_mask(self, (self.mask | EPOLLIN) if on else (self.mask & ~EPOLLIN))
        return 0

    cdef int _want_write(self, bint on) except -1:
        if self._loop is None or self._loop._closed:
            return 0
        self._loop._fd_set_mask(self, (self.mask | EPOLLOUT) if on else (self.mask & ~EPOLLOUT))
        return 0

    # --- subclass hooks --------------------------------------------------------

    cdef Py_ssize_t _write_buffer_size(self):
        return 0

    cdef bint _has_pending_writes(self):
        return False

    cdef int _clear_write_buffer(self) except -1:
        return 0

    # --- errors and teardown -------------------------------------------------

    cdef int _fatal_error(self, object exc, str message) except -1:
        if isinstance(exc, OSError):
            # Connection errors are the peer's business, not a bug: asyncio
            # only logs them in debug mode.
            if self._loop._debug:
                _logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self._loop.call_exception_handler({
                'message': message,
                'exception': exc,
                'transport': self,
                'protocol': self._protocol,
            })
        self._force_close(exc)
        return 0

    # cpdef, not cdef: asyncio's SSLProtocol calls transport._force_close(exc)
    # on the transport under it when the handshake fails or the TLS shutdown
    # times out (sslproto.SSLProtocol._fatal_error, _check_shutdown_timeout).
    cpdef int _force_close(self, object exc) except -1:
        if self._conn_lost:
            return 0
        if self._has_pending_writes():
            self._clear_write_buffer()
            self._want_write(False)
        if not self._closing:
            self._closing = True
            self._want_read(False)
        self._conn_lost += 1
        self._loop.call_soon(self._call_connection_lost, exc)
        return 0

    def _call_connection_lost(self, exc):
        try:
            if self._protocol_connected:
                self._protocol.connection_lost(exc)
        finally:
            loop = self._loop
            if loop is not None and not loop._closed:
                loop._fd_detach(self)
            if self._sock is not None:
                self._sock.close()
            self._sock = None
            self._protocol = None
            self._loop = None
            server = self._server
            if server is not None:
                self._server = None
                if _server_tracks_transports:
                    server._detach(self)
                else:
                    server._detach()
