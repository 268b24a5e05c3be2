# Pipe transports: connect_read_pipe() and connect_write_pipe() over pipes,
# FIFOs, character devices (ttys, ptys) and sockets. Semantics, messages and
# callback order follow asyncio's _UnixReadPipeTransport and
# _UnixWritePipeTransport (unix_events.py); the read and write paths are C.
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

import os as _os_pipes
import stat as _stat

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_CheckExact
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from aioloop.includes.linux cimport read as _c_read, write as _c_write, EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP
from aioloop.includes.sockets cimport iovec, writev

cdef object _set_result_unless_cancelled_p = _asyncio.futures._set_result_unless_cancelled

cdef enum:
    _PIPE_MAX_READ = 256 * 1024      # asyncio's max_size: bytes read per event
    _PIPE_IOV_BATCH = 64
    _EIO = 5


cdef class PipeTransport(FdWatcher):

    def __init__(self, *args, **kwargs):
        raise TypeError("transports are created by the event loop")

    cdef int _init(self, NetLoop loop, object pipe, object protocol,
                   object extra) except -1:
        self._extra = {} if extra is None else extra
        self._extra['pipe'] = pipe
        self._fileno = pipe.fileno()
        self._loop = loop
        self._pipe = pipe
        self._protocol = protocol
        self.fd = self._fileno
        return 0

    cdef int _want(self, unsigned int events, bint on) except -1:
        if self._loop is None or self._loop._closed:
            return 0
        self._loop._fd_set_mask(self, (self.mask | events) if on else (self.mask & ~events))
        return 0

    # --- asyncio.BaseTransport -------------------------------------------------

    def get_extra_info(self, name, default=None):
        return self._extra.get(name, default)

    def set_protocol(self, protocol):
        self._protocol = protocol

    def get_protocol(self):
        return self._protocol

    def is_closing(self):
        return self._closing

    # --- teardown ----------------------------------------------------------------

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
            loop._fd_detach(self)
        pipe = self._pipe
        if pipe is not None:
            self._pipe = None
            pipe.close()
        return 0

    def __del__(self):
        if self._pipe is not None:
            _warnings.warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self._release()


cdef int _check_pipe_mode(object fileno, bint for_write) except -1:
    mode = _os_pipes.fstat(fileno).st_mode
    if _stat.S_ISFIFO(mode) or _stat.S_ISSOCK(mode) or _stat.S_ISCHR(mode):
        return 0
    if for_write:
        raise ValueError("Pipe transport is only for "
                         "pipes, sockets and character devices")
    raise ValueError("Pipe transport is for pipes/sockets only.")


cdef class ReadPipeTransport(PipeTransport):

    max_size = _PIPE_MAX_READ

    @property
    def __class__(self):
        return _asyncio.ReadTransport

    def __repr__(self):
        info = [type(self).__name__]
        if self._pipe is None:
            info.append('closed')
        elif self._closing:
            info.append('closing')
        info.append(f'fd={self._fileno}')
        if self._pipe is not None and self._loop is not None and not self._loop._closed:
            info.append('polling' if self.mask & EPOLLIN else 'idle')
        elif self._pipe is not None:
            info.append('open')
        else:
            info.append('closed')
        return '<{}>'.format(' '.join(info))

    def _start_reading(self):
        # Scheduled after connection_made(), which may have paused or closed us.
        if self.is_reading():
            self._want(EPOLLIN, True)

    def is_reading(self):
        return not self._paused and not self._closing

    def pause_reading(self):
        if not self.is_reading():
            return
        self._paused = True
        self._want(EPOLLIN, False)
        if self._loop._debug:
            _logger.debug("%r pauses reading", self)

    def resume_reading(self):
        if self._closing or not self._paused:
            return
        self._paused = False
        self._want(EPOLLIN, True)
        if self._loop._debug:
            _logger.debug("%r resumes reading", self)

    def close(self):
        if not self._closing:
            self._closing = True
            self._want(EPOLLIN, False)
            self._schedule_connection_lost(None)

    cdef int dispatch(self, uint32_t events) except -1:
        # EPOLLHUP/EPOLLERR come with or without EPOLLIN: read() tells which.
        if self.mask & EPOLLIN and events & ~EPOLLOUT:
            self._read_ready()
        return 0

    cdef int _read_ready(self) except -1:
        cdef ssize_t n
        cdef int err
        cdef NetLoop loop = self._loop
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
            self._want(EPOLLIN, False)
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
            loop.call_exception_handler({
                'message': 'Exception in protocol.data_received() of pipe transport',
                'exception': exc,
                'transport': self,
                'protocol': self._protocol,
            })
        return 0

    cdef int _fatal_error(self, object exc, str message) except -1:
        if isinstance(exc, OSError) and exc.errno == _EIO:
            # A pty whose other side closed: an end, not a bug.
            if self._loop._debug:
                _logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self._loop.call_exception_handler({
                'message': message,
                'exception': exc,
                'transport': self,
                'protocol': self._protocol,
            })
        self._closing = True
        self._want(EPOLLIN, False)
        return self._schedule_connection_lost(exc)


cdef class WritePipeTransport(PipeTransport):

    @property
    def __class__(self):
        return _asyncio.WriteTransport

    def __repr__(self):
        info = [type(self).__name__]
        if self._pipe is None:
            info.append('closed')
        elif self._closing:
            info.append('closing')
        info.append(f'fd={self._fileno}')
        if self._pipe is not None and self._loop is not None and not self._loop._closed:
            info.append('polling' if self.mask & EPOLLOUT else 'idle')
            info.append(f'bufsize={self._wq_size}')
        elif self._pipe is not None:
            info.append('open')
        else:
            info.append('closed')
        return '<{}>'.format(' '.join(info))

    def _start_watching_peer(self):
        # Scheduled after connection_made(), as asyncio adds its reader.
        if self._watch_peer and not self._lost_scheduled:
            self._want(EPOLLIN, True)

    cdef int dispatch(self, uint32_t events) except -1:
        # The reader's close first, as asyncio's selector runs the reader
        # callback before the writer callback for one EPOLLERR.
        if self.mask & EPOLLIN and events & ~EPOLLOUT:
            return self._peer_closed()
        if self.mask & EPOLLOUT:
            return self._write_ready()
        return 0

    cdef int _peer_closed(self) except -1:
        if self._loop._debug:
            _logger.info("%r was closed by peer", self)
        return self._close(BrokenPipeError() if self._wq_size else None)

    # --- writing -------------------------------------------------------------------

    def write(self, data):
        """Write data now; queue what the pipe does not take. Never blocks.
        After close(), write_eof() or a failure, data is dropped (a warning
        is logged once writes keep coming), as asyncio does."""
        cdef ssize_t n
        cdef Py_ssize_t total
        cdef int err
        cdef Py_buffer view
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
        if self._wq_size:
            if type(data) is memoryview and not data.c_contiguous:
                # A memoryview with gaps (view[::2]): asyncio's bytearray
                # buffer refuses it.
                raise TypeError("can't concat memoryview to bytearray")
            self._queue(data, 0)
            self._maybe_pause_protocol()
            return
        if PyBytes_CheckExact(data):
            n = _c_write(self.fd, PyBytes_AS_STRING(data), total)
            err = errno
        else:
            try:
                PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
            except BufferError as exc:
                # A memoryview with gaps: asyncio's os.write() fails on it.
                self._conn_lost += 1
                self._fatal_error(exc, 'Fatal write error on pipe transport')
                return
            try:
                n = _c_write(self.fd, view.buf, view.len)
                err = errno
            finally:
                PyBuffer_Release(&view)
        if n < 0:
            if err != EAGAIN and err != EINTR:
                self._conn_lost += 1
                self._fatal_error(_make_oserror(err), 'Fatal write error on pipe transport')
                return
            n = 0
        if n == total:
            return
        self._queue(data, n)
        self._want(EPOLLOUT, True)
        self._maybe_pause_protocol()

    def writelines(self, list_of_data):
        """Write an iterable of bytes-like objects (joined, as asyncio's
        WriteTransport.writelines does: one write() for them all)."""
        self.write(b''.join(list_of_data))

    cdef int _queue(self, object data, Py_ssize_t offset) except -1:
        # Queued data must be immutable: a caller may reuse its bytearray.
        if not PyBytes_CheckExact(data):
            data = bytes(data)
        if self._wq is None:
            self._wq = []
        self._wq.append(data)
        if len(self._wq) - self._wq_head == 1:
            self._wq_off = offset
        self._wq_size += PyBytes_GET_SIZE(data) - offset
        return 0

    cdef Py_ssize_t _flush(self) except -2:
        """writev() as much of the queue as the pipe takes. Returns bytes
        written, or -1 after a fatal error (the transport is then closing)."""
        cdef iovec iov[_PIPE_IOV_BATCH]
        cdef Py_ssize_t k, cnt, total = 0
        cdef ssize_t n
        cdef int err
        cdef list wq = self._wq
        while self._wq_size:
            cnt = min(len(wq) - self._wq_head, _PIPE_IOV_BATCH)
            for k in range(cnt):
                item = wq[self._wq_head + k]
                iov[k].iov_base = PyBytes_AS_STRING(item)
                iov[k].iov_len = PyBytes_GET_SIZE(item)
            iov[0].iov_base = <char *>iov[0].iov_base + self._wq_off
            iov[0].iov_len -= self._wq_off
            n = writev(self.fd, iov, <int>cnt)
            if n < 0:
                err = errno
                if err == EAGAIN or err == EINTR:
                    break
                self._clear_queue()
                self._conn_lost += 1
                self._want(EPOLLOUT, False)
                self._fatal_error(_make_oserror(err), 'Fatal write error on pipe transport')
                return -1
            total += n
            self._wq_size -= n
            while n > 0:
                item = wq[self._wq_head]
                k = PyBytes_GET_SIZE(item) - self._wq_off
                if n >= k:
                    n -= k
                    wq[self._wq_head] = None
                    self._wq_head += 1
                    self._wq_off = 0
                else:
                    self._wq_off += n
                    n = 0
            if self._wq_size and self._wq_off:
                break   # a partial write: the pipe is full
        if self._wq_head == len(wq):
            del wq[:]
            self._wq_head = 0
        elif self._wq_head > 64 and self._wq_head * 2 > len(wq):
            del wq[:self._wq_head]
            self._wq_head = 0
        return total

    cdef int _write_ready(self) except -1:
        if not self._wq_size:
            return 0
        if self._flush() < 0 or self._wq_size:
            return 0
        self._want(EPOLLOUT, False)
        self._maybe_resume_protocol()   # may write (and queue) more
        if self._closing and not self._wq_size:
            # close()/write_eof() waited for the queue to drain.
            self._want(EPOLLIN, False)
            self._lost_scheduled = True
            self._call_connection_lost(None)
        return 0

    cdef int _clear_queue(self) except -1:
        self._wq = None
        self._wq_head = 0
        self._wq_off = 0
        self._wq_size = 0
        return 0

    def can_write_eof(self):
        return True

    def write_eof(self):
        """Close the write end once the queue drains; connection_lost(None)
        follows. The reader then sees EOF."""
        if self._closing:
            return
        self._closing = True
        if not self._wq_size:
            self._want(EPOLLIN, False)
            self._schedule_connection_lost(None)

    def close(self):
        """Same as write_eof(): a pipe's write end has nothing else to close."""
        if self._pipe is not None and not self._closing:
            self.write_eof()

    def abort(self):
        """Close now, dropping queued data; connection_lost(None) follows."""
        self._close(None)

    cdef int _fatal_error(self, object exc, str message) except -1:
        if isinstance(exc, OSError):
            # EPIPE and friends: the reader's business, not a bug.
            if self._loop._debug:
                _logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self._loop.call_exception_handler({
                'message': message,
                'exception': exc,
                'transport': self,
                'protocol': self._protocol,
            })
        return self._close(exc)

    cdef int _close(self, object exc) except -1:
        self._closing = True
        if self._wq_size:
            self._want(EPOLLOUT, False)
        self._clear_queue()
        self._want(EPOLLIN, False)
        return self._schedule_connection_lost(exc)

    # --- write flow control (asyncio.transports._FlowControlMixin) -----------

    def get_write_buffer_size(self):
        return self._wq_size

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
        if self._wq_size <= self._high_water or self._protocol_paused:
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
        if not self._protocol_paused or self._wq_size > self._low_water:
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


# --- factories (the loop's _make_read_pipe_transport & co.) --------------------

cdef ReadPipeTransport _make_read_pipe(NetLoop loop, object pipe, object protocol,
                                       object waiter, object extra):
    cdef ReadPipeTransport t = ReadPipeTransport.__new__(ReadPipeTransport)
    t._init(loop, pipe, protocol, extra)
    try:
        _check_pipe_mode(t._fileno, False)
        _os_pipes.set_blocking(t._fileno, False)
        loop._fd_attach(t)
    except BaseException:
        t._pipe = None
        t._fileno = None
        t._protocol = None
        raise
    loop.call_soon(protocol.connection_made, t)
    # Reading starts only once connection_made() has run.
    loop.call_soon(t._start_reading)
    if waiter is not None:
        loop.call_soon(_set_result_unless_cancelled_p, waiter, None)
    return t


cdef WritePipeTransport _make_write_pipe(NetLoop loop, object pipe, object protocol,
                                         object waiter, object extra):
    cdef WritePipeTransport t = WritePipeTransport.__new__(WritePipeTransport)
    t._init(loop, pipe, protocol, extra)
    t._high_water = 64 * 1024
    t._low_water = 16 * 1024
    try:
        _check_pipe_mode(t._fileno, True)
        mode = _os_pipes.fstat(t._fileno).st_mode
        t._watch_peer = _stat.S_ISFIFO(mode) or _stat.S_ISSOCK(mode)
        _os_pipes.set_blocking(t._fileno, False)
        loop._fd_attach(t)
    except BaseException:
        t._pipe = None
        t._fileno = None
        t._protocol = None
        raise
    loop.call_soon(protocol.connection_made, t)
    loop.call_soon(t._start_watching_peer)
    if waiter is not None:
        loop.call_soon(_set_result_unless_cancelled_p, waiter, None)
    return t
