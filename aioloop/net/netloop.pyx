# The network layer of the loop, part 1 (C): transport factories and the
# internal reader/writer API that asyncio's socket helpers call
# (_add_reader & co., as in selector_events.BaseSelectorEventLoop).

cdef object _set_nodelay_opts = (_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
cdef object _INET_FAMILIES = frozenset((_socket.AF_INET, _socket.AF_INET6))

cdef enum:
    # What a SockWait retries on each readiness of its socket.
    _SOCK_RECV = 0
    _SOCK_RECV_INTO = 1
    _SOCK_SENDALL = 2

cdef tuple _SOCK_METHODS = ('sock_recv', 'sock_recv_into', 'sock_sendall')


cdef object _check_ssl_socket = _base_events._check_ssl_socket


# Reads at least this large are received straight into the bytes object
# returned: a FIONREAD ioctl costs less than copying them out of the buffer.
cdef enum:
    _RECV_DIRECT_MIN = 32768


cdef object _recv_via_buffer(NetLoop loop, object sock, object n):
    # sock.recv(n) allocates n bytes and shrinks them to what arrived (for
    # recv(262144) a 256 KiB malloc/realloc per call). Receive into the
    # loop's buffer and copy out only what arrived; but when the last read
    # was large (a bulk transfer), ask the kernel how much is queued
    # (FIONREAD) and receive that much straight into the bytes object, with
    # no copy. Returns None when the call would block; raises OSError as
    # sock.recv() would.
    cdef Py_ssize_t size
    cdef ssize_t got
    cdef int err, fd, avail = 0
    cdef bytes data
    if type(n) is not int or not 0 < n <= loop._recv_buf_size:
        try:
            return sock.recv(n)     # 0, negative, huge, or an int subclass
        except (BlockingIOError, InterruptedError):
            return None
    size = n
    fd = sock.fileno()
    if (loop._recv_big and size >= _RECV_DIRECT_MIN
            and ioctl(fd, FIONREAD, &avail) == 0 and avail >= _RECV_DIRECT_MIN):
        if avail > size:
            avail = size
        data = PyBytes_FromStringAndSize(NULL, avail)
        got = recv(fd, PyBytes_AS_STRING(data), avail, 0)
        if got < 0:
            err = errno
            if err == EAGAIN or err == EINTR:
                return None
            raise _make_oserror(err)
        if got < avail:
            # Only if another reader took part of it in between.
            loop._recv_big = got >= _RECV_DIRECT_MIN
            return data[:got]
        return data
    got = recv(fd, loop._recv_buf, size, 0)
    if got < 0:
        err = errno
        if err == EAGAIN or err == EINTR:
            return None
        raise _make_oserror(err)
    loop._recv_big = got >= _RECV_DIRECT_MIN
    return PyBytes_FromStringAndSize(loop._recv_buf, got)


@cython.final
cdef class SockWait:

    def __call__(self):
        # The fd's reader (writer) callback while the future is pending: the
        # syscall again, as asyncio's _sock_recv & co. retry it.
        if self.fut.done():
            return
        try:
            if self.kind == _SOCK_RECV:
                result = _recv_via_buffer(self.loop, self.sock, self.arg)
                if result is None:
                    return      # spurious readiness: keep waiting
            elif self.kind == _SOCK_RECV_INTO:
                result = self.sock.recv_into(self.arg)
            else:
                self.sent += self.sock.send(self.arg[self.sent:])
                if self.sent < len(self.arg):
                    return
                result = None
        except (BlockingIOError, InterruptedError):
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.fut.set_exception(exc)
        else:
            self.fut.set_result(result)

    cdef int done(self) except -1:
        # The coroutine's `finally`, however the wait ended (result, error,
        # cancellation): remove the callback, lazily, if it is still ours
        # (asyncio's rule: a reader that replaced ours is not ours to remove).
        cdef Handle handle = self.handle
        cdef bint reading = self.kind != _SOCK_SENDALL
        self.handle = None
        if handle is None or self.loop._closed or handle._cancelled:
            return 0
        w = self.loop._fdtable.watcher(self.fd) if self.fd >= 0 else None
        if isinstance(w, ReaderWriter) and (
                (<ReaderWriter>w).reader is handle if reading
                else (<ReaderWriter>w).writer is handle):
            self.loop._fdtable.remove_callback(self.fd, reading, True)
        return 0

    def __repr__(self):
        return f'<{_SOCK_METHODS[self.kind]} waiting on fd={self.fd}>'


cdef _set_nodelay(sock):
    # Every TCP connection gets TCP_NODELAY, as with uvloop. asyncio sets it
    # only when the socket's proto is IPPROTO_TCP, which a plain
    # socket.socket() listener's accepted sockets are not (proto 0): a
    # keep-alive HTTP server then waits on delayed ACKs (README: behaviour).
    if sock.family in _INET_FAMILIES and sock.type == _socket.SOCK_STREAM:
        try:
            sock.setsockopt(*_set_nodelay_opts)
        except OSError:
            pass


cdef class NetLoop(EventLoopCore):
    # --- the internal reader/writer API --------------------------------------

    def _add_reader(self, fd, callback, *args):
        return self._add_fd_callback(fd, True, callback, args)

    def _add_writer(self, fd, callback, *args):
        return self._add_fd_callback(fd, False, callback, args)

    def _remove_reader(self, fd):
        if self._closed:
            return False
        return self._fdtable.remove_callback(self._fdtable.registered_fd(fd), True)

    def _remove_writer(self, fd):
        if self._closed:
            return False
        return self._fdtable.remove_callback(self._fdtable.registered_fd(fd), False)

    def _remove_fd_callback_lazily(self, int fd, bint reading):
        """Remove fd's reader (or writer) but leave its epoll registration
        in place (FdTable.remove_callback's `lazy`): a re-add on this loop
        renews it, an event that finds no callback drops it. True if there
        was one. Loop thread only."""
        if self._closed:
            return False
        return self._fdtable.remove_callback(fd, reading, True)

    def _ensure_fd_no_transport(self, fd):
        cdef int fileno
        try:
            fileno = _fileobj_to_fd(fd)
        except ValueError:
            # No valid fd (a closed socket says -1), so no transport owns it;
            # the reader/writer method then raises or, for removal, finds a
            # closed object by identity (as asyncio's selector).
            return
        w = self._fdtable.watcher(fileno)
        if isinstance(w, SocketTransport) and not (<SocketTransport>w)._closing:
            raise RuntimeError(f'File descriptor {fd!r} is used by transport {w!r}')

    def add_reader(self, fd, callback, *args):
        """Call callback(*args) whenever fd is readable (level-triggered).
        Replaces an earlier reader of the same fd. RuntimeError if the fd
        belongs to a transport. Loop thread only."""
        self._ensure_fd_no_transport(fd)
        self._add_fd_callback(fd, True, callback, args)

    def add_writer(self, fd, callback, *args):
        """Call callback(*args) whenever fd is writable (level-triggered)."""
        self._ensure_fd_no_transport(fd)
        self._add_fd_callback(fd, False, callback, args)

    def remove_reader(self, fd):
        """Stop watching fd for reading. True if a reader was removed."""
        self._ensure_fd_no_transport(fd)
        return self._remove_reader(fd)

    def remove_writer(self, fd):
        """Stop watching fd for writing. True if a writer was removed."""
        self._ensure_fd_no_transport(fd)
        return self._remove_writer(fd)

    # --- sock_recv, sock_recv_into, sock_sendall -----------------------------
    # asyncio's semantics (base on selector_events): try the syscall first;
    # only if it would block, wait for readiness with a future. Unlike
    # asyncio, no functools.partial and done-callback per wait: a SockWait is
    # the fd's callback, the coroutine ends the wait in `finally` (also on
    # cancellation), and ends it lazily, so a socket read in a loop stays
    # registered with epoll. The await itself stays in each coroutine: a
    # shared coroutine around it would cost another coroutine per wait.

    cdef int _check_sock(self, object sock) except -1:
        _check_ssl_socket(sock)
        if self._debug and sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking")
        return 0

    cdef SockWait _sock_wait(self, object sock, int kind, object arg, Py_ssize_t sent):
        # The syscall of sock_<kind> would block: retry it on each readiness
        # of sock until it settles the returned wait's future.
        cdef SockWait w = SockWait.__new__(SockWait)
        w.loop = self
        w.fut = _Future(loop=self)
        w.sock = sock
        w.kind = kind
        w.arg = arg
        w.sent = sent
        w.fd = sock.fileno()
        self._ensure_fd_no_transport(w.fd)
        w.handle = self._add_fd_callback(sock, kind != _SOCK_SENDALL, w, ())
        return w

    async def sock_recv(self, sock, n):
        """Receive up to n bytes from non-blocking `sock`."""
        cdef SockWait w
        self._check_sock(sock)
        data = _recv_via_buffer(self, sock, n)
        if data is not None:
            return data
        w = self._sock_wait(sock, _SOCK_RECV, n, 0)
        try:
            return await w.fut
        finally:
            w.done()

    async def sock_recv_into(self, sock, buf):
        """Receive into `buf` from non-blocking `sock`; return the count."""
        cdef SockWait w
        self._check_sock(sock)
        try:
            return sock.recv_into(buf)
        except (BlockingIOError, InterruptedError):
            pass
        w = self._sock_wait(sock, _SOCK_RECV_INTO, buf, 0)
        try:
            return await w.fut
        finally:
            w.done()

    async def sock_sendall(self, sock, data):
        """Send all of `data` on non-blocking `sock`."""
        cdef SockWait w
        self._check_sock(sock)
        try:
            n = sock.send(data)
        except (BlockingIOError, InterruptedError):
            n = 0
        if n == len(data):
            # all data sent
            return
        w = self._sock_wait(sock, _SOCK_SENDALL, memoryview(data), n)
        try:
            return await w.fut
        finally:
            w.done()

    # --- transports ----------------------------------------------------------

    def _make_socket_transport(self, sock, protocol, waiter=None, *,
                               extra=None, server=None):
        cdef StreamTransport t = StreamTransport.__new__(StreamTransport)
        t._init(self, sock, protocol, extra, server)
        _set_nodelay(sock)
        self.call_soon(protocol.connection_made, t)
        # Reading starts only once connection_made() has run.
        self.call_soon(t._start_reading)
        if waiter is not None:
            self.call_soon(_set_result_unless_cancelled, waiter, None)
        return t

    def _make_datagram_transport(self, sock, protocol, address=None,
                                 waiter=None, extra=None):
        cdef DatagramTransport t = DatagramTransport.__new__(DatagramTransport)
        t._init(self, sock, protocol, extra, None)
        t._address = address
        self.call_soon(protocol.connection_made, t)
        self.call_soon(t._start_reading)
        if waiter is not None:
            self.call_soon(_set_result_unless_cancelled, waiter, None)
        return t

    def _make_ssl_transport(self, rawsock, protocol, sslcontext, waiter=None,
                            *, server_side=False, server_hostname=None,
                            extra=None, server=None,
                            ssl_handshake_timeout=None,
                            ssl_shutdown_timeout=None):
        # TLS is asyncio's SSLProtocol (a BufferedProtocol) over our stream
        # transport; the application sees SSLProtocol's app transport.
        self._ensure_fd_no_transport(rawsock)
        ssl_protocol = _sslproto.SSLProtocol(
            self, protocol, sslcontext, waiter, server_side, server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout)
        self._make_socket_transport(rawsock, ssl_protocol, extra=extra, server=server)
        return ssl_protocol._app_transport

    def _stop_serving(self, sock):
        # Python 3.13's Unix loop unlinks a listening Unix socket's path at
        # close (cleanup_socket), if the inode is still the one it bound.
        unix_sockets = getattr(self, '_unix_server_sockets', None)
        path = sock.getsockname() if unix_sockets and sock in unix_sockets else None
        self._remove_reader(sock.fileno())
        sock.close()
        if path is not None:
            prev_ino = unix_sockets.pop(sock)
            try:
                if _os.stat(path).st_ino == prev_ino:
                    _os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as err:
                _logger.error('Unable to clean up listening UNIX socket %r: %r', path, err)

    async def _sendfile_native(self, transp, file, offset, count):
        # loop.sendfile() on a plain stream transport: os.sendfile() on its
        # socket. Reading pauses and the write queue drains first; then the
        # fd's slot is lent to sock_sendfile() (which waits with add_writer)
        # and given back afterwards.
        cdef StreamTransport t = <StreamTransport?>transp
        resume_reading = t.is_reading()
        t.pause_reading()
        await t._make_empty_waiter()
        self._fdtable.detach(t)
        try:
            return await self.sock_sendfile(t._sock, file, offset, count, fallback=False)
        finally:
            t._reset_empty_waiter()
            if t._loop is not None and t._sock is not None:
                self._fdtable.attach(t)
                if t._wq.size:
                    t._want_write(True)
            if resume_reading:
                t.resume_reading()
