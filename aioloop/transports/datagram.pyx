# Datagram transports (UDP, Unix datagram). Semantics of asyncio's
# selector_events._SelectorDatagramTransport: OSErrors from sending or
# receiving go to protocol.error_received() and the transport stays open.


cdef int _DGRAM_MAX = 256 * 1024

# What isinstance() sees (transports/socket.pyx): asyncio's own datagram
# transport is both an asyncio.DatagramTransport and an asyncio.Transport.
class _DatagramTransportClass(_asyncio.DatagramTransport, _asyncio.Transport):
    __slots__ = ()
_DatagramTransportClass.__name__ = _DatagramTransportClass.__qualname__ = 'DatagramTransport'
# What get_write_buffer_size() counts per queued datagram on top of its
# bytes, and whether an empty datagram is sent: each Python version's
# asyncio. 3.13 counts an 8-byte header and sends empty datagrams; 3.11 and
# 3.12 count the payload only and drop empty datagrams silently. (Stock
# 3.13.0 adds the header when queueing but forgets to subtract it when the
# datagram is sent, so its count never returns to 0; ours does.)
cdef Py_ssize_t _DGRAM_HEADER = 8 if _sys.version_info >= (3, 13) else 0
cdef bint _SEND_EMPTY_DGRAM = _sys.version_info >= (3, 13)


cdef class DatagramTransport(SocketTransport):

    def _asyncio_class(self):
        return _DatagramTransportClass

    cdef int dispatch(self, uint32_t events) except -1:
        if self.mask & EPOLLIN and events & ~EPOLLOUT:
            self._read_ready()
        if self.mask & EPOLLOUT and events & ~EPOLLIN:
            self._sendto_ready()
        return 0

    cdef int _read_ready(self) except -1:
        if self._conn_lost:
            return 0
        try:
            data, addr = self._sock.recvfrom(_DGRAM_MAX)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as exc:
            self._protocol.error_received(exc)
            return 0
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal read error on datagram transport')
            return 0
        self._protocol.datagram_received(data, addr)
        return 0

    def sendto(self, data, addr=None):
        """Send one datagram to addr (or to the connected peer)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f'data argument must be a bytes-like object, '
                            f'not {type(data).__name__!r}')
        if not _SEND_EMPTY_DGRAM and not len(data):
            return
        if self._address:
            if addr not in (None, self._address):
                raise ValueError(
                    f'Invalid address: must be None or {self._address}')
            addr = self._address
        if self._conn_lost and self._address:
            if self._conn_lost >= _LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                _logger.warning('socket.send() raised exception.')
            self._conn_lost += 1
            return
        if not self._dq_size:
            try:
                # No address: to the connected peer (as uvloop), also for a
                # socket passed as sock= whose peer has no name (an unnamed
                # socketpair's peername is ''), where asyncio calls
                # sendto(data, None) and fails the transport with TypeError.
                # On an unconnected socket the kernel's EDESTADDRREQ goes to
                # error_received().
                if addr is None or self._extra['peername']:
                    self._sock.send(data)
                else:
                    self._sock.sendto(data, addr)
                return
            except (BlockingIOError, InterruptedError):
                self._want_write(True)
            except OSError as exc:
                self._protocol.error_received(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, 'Fatal write error on datagram transport')
                return
        if self._dq is None:
            self._dq = _collections.deque()
        # What waits must be immutable.
        self._dq.append((bytes(data), addr))
        self._dq_size += len(data) + _DGRAM_HEADER
        self._maybe_pause_protocol()

    cdef int _sendto_ready(self) except -1:
        while self._dq:
            data, addr = self._dq.popleft()
            self._dq_size -= len(data) + _DGRAM_HEADER
            try:
                if addr is None or self._extra['peername']:
                    self._sock.send(data)
                else:
                    self._sock.sendto(data, addr)
            except (BlockingIOError, InterruptedError):
                self._dq.appendleft((data, addr))
                self._dq_size += len(data) + _DGRAM_HEADER
                break
            except OSError as exc:
                self._protocol.error_received(exc)
                return 0
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, 'Fatal write error on datagram transport')
                return 0
        self._maybe_resume_protocol()
        if not self._dq:
            self._want_write(False)
            if self._closing:
                self._call_connection_lost(None)
        return 0

    cdef Py_ssize_t _write_buffer_size(self):
        return self._dq_size

    cdef int _clear_write_buffer(self) except -1:
        self._dq = None
        self._dq_size = 0
        return 0
