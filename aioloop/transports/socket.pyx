# Socket transports: the state and lifecycle that stream (TCP, Unix) and
# datagram transports share on top of FdTransport (fdtransport.pyx). Semantics
# follow asyncio's selector transports (selector_events._SelectorTransport):
# the same close/abort/connection_lost rules and messages.
#
# isinstance(transport, asyncio.Transport) holds through __class__, the hook
# unittest.mock uses: asyncio's transport classes are Python classes with
# __slots__, which an extension type cannot inherit from (instance layout
# conflict), and wrapping ours in a Python class would add a Python call to
# every write().


cdef object _TransportSocket = _trsock.TransportSocket
cdef int _LOG_THRESHOLD_FOR_CONNLOST_WRITES = _constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES
# Server._attach()/_detach() take the transport from Python 3.13 on.
cdef bint _server_tracks_transports = len(_inspect.signature(_base_events.Server._attach).parameters) == 2


cdef class SocketTransport(FdTransport):

    cdef int _init(self, EventLoopCore loop, object sock, object protocol,
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
        self._closing = False
        self._paused = False
        self._conn_lost = 0
        if server is not None:
            # Server._attach() refuses (AssertionError) once the server is
            # closed: a connection accepted just before close() whose
            # transport is made after it. Only an attached server is
            # remembered, so that __del__ and connection_lost detach
            # exactly what was attached (3.11/3.12 assert the count).
            if _server_tracks_transports:
                server._attach(self)
            else:
                server._attach()
            self._server = server
        loop._fdtable.attach(self)
        return 0

    # --- asyncio.BaseTransport -----------------------------------------------

    @property
    def __class__(self):
        return self._asyncio_class()

    def _asyncio_class(self):
        return _asyncio.Transport

    cdef bint admits_readers(self):
        # asyncio refuses add_reader() & co. on a transport's fd only while
        # it is not closing (selector_events._ensure_fd_no_transport).
        return self._closing

    cdef int _set_protocol(self, object protocol) except -1:
        self._protocol = protocol
        self._protocol_connected = True
        return 0

    def close(self):
        """Close after the write buffer drains; connection_lost(None) follows
        on a later pass. Idempotent."""
        if self._closing:
            return
        self._closing = True
        self._want_read(False)
        if not self._write_buffer_size():
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
                self._loop._fdtable.detach(self)
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

    # --- asyncio.ReadTransport and WriteTransport (fdtransport.pyx) ----------

    is_reading = FdTransport._is_reading
    pause_reading = FdTransport._pause_reading
    resume_reading = FdTransport._resume_reading
    get_write_buffer_size = FdTransport._get_write_buffer_size
    get_write_buffer_limits = FdTransport._get_write_buffer_limits
    set_write_buffer_limits = FdTransport._set_write_buffer_limits

    # --- teardown --------------------------------------------------------------

    cpdef int _force_close(self, object exc) except -1:
        if self._conn_lost:
            return 0
        if self._write_buffer_size():
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
                loop._fdtable.detach(self)
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
