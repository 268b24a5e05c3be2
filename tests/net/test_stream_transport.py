"""The asyncio.Transport contract of stream transports: flow control,
half-close, abort, peer reset, refused connections, extra info,
set_protocol, pause/resume_reading."""

import asyncio
import errno
import hashlib
import socket
import struct
import sys

import pytest

from .netutil import EchoServer, Recorder, BufferedRecorder, free_port, pattern

CHUNK = 64 * 1024
TOTAL = 8 * 1024 * 1024


class SlowReader(asyncio.Protocol):
    """Reads in bursts: pauses reading after every chunk and resumes a
    moment later. Hashes what it got; replies with the digest on EOF."""

    def __init__(self, log):
        self.log = log
        self.hash = hashlib.sha256()
        self.n = 0

    def connection_made(self, t):
        self.t = t

    def data_received(self, data):
        self.hash.update(data)
        self.n += len(data)
        assert self.t.is_reading()
        self.t.pause_reading()
        assert not self.t.is_reading()
        self.t.pause_reading()      # idempotent
        self.log.append("pause_reading")
        asyncio.get_running_loop().call_later(0.002, self._resume)

    def _resume(self):
        if not self.t.is_closing():
            self.t.resume_reading()
            self.t.resume_reading()   # idempotent

    def eof_received(self):
        self.t.write(self.hash.hexdigest().encode())
        return False


class FlowWriter(Recorder):
    """Writes TOTAL bytes in CHUNKs, stopping whenever pause_writing() says
    so; records the largest write buffer it ever saw."""

    def __init__(self):
        super().__init__()
        self.flow = []
        self.can_write = asyncio.Event()
        self.can_write.set()

    def pause_writing(self):
        assert self.can_write.is_set(), "pause_writing() twice in a row"
        self.flow.append("pause")
        self.can_write.clear()

    def resume_writing(self):
        assert not self.can_write.is_set(), "resume_writing() without pause"
        self.flow.append("resume")
        self.can_write.set()


@pytest.mark.parametrize("high", [None, 256 * 1024, 0])
def test_slow_reader_bounds_writer_buffer_by_high_water(run, high):
    async def main():
        loop = asyncio.get_running_loop()
        log = []
        server = await loop.create_server(lambda: SlowReader(log), "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            transport, w = await loop.create_connection(FlowWriter, "127.0.0.1", port)
            if high is not None:
                transport.set_write_buffer_limits(high=high)
                assert transport.get_write_buffer_limits() == (high // 4, high)
            else:
                assert transport.get_write_buffer_limits() == (16 * 1024, 64 * 1024)
            low, hi = transport.get_write_buffer_limits()
            data = pattern(TOTAL, 9)
            biggest = 0
            for off in range(0, TOTAL, CHUNK):
                await w.can_write.wait()
                # Not paused: the buffer is at or under the high-water mark.
                assert transport.get_write_buffer_size() <= hi
                transport.write(data[off:off + CHUNK])
                biggest = max(biggest, transport.get_write_buffer_size())
            assert biggest <= hi + CHUNK
            transport.write_eof()
            await w.eof
            assert bytes(w.data) == hashlib.sha256(data).hexdigest().encode()
            assert await w.closed is None
            # The slow reader really made the writer wait.
            assert w.flow[:2] == ["pause", "resume"]
            assert w.flow.count("pause") == w.flow.count("resume")
            assert len(log) > 1
    run(main)


def test_set_write_buffer_limits_validates(run):
    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(EchoServer, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            t, p = await loop.create_connection(Recorder, "127.0.0.1", port)
            with pytest.raises(ValueError, match="high .* must be >= low"):
                t.set_write_buffer_limits(high=1, low=2)
            with pytest.raises(ValueError):
                t.set_write_buffer_limits(high=-1)
            t.set_write_buffer_limits(low=100)
            assert t.get_write_buffer_limits() == (100, 400)
            t.set_write_buffer_limits()
            assert t.get_write_buffer_limits() == (16 * 1024, 64 * 1024)
            t.close()
            await p.closed
    run(main)


def test_half_close_server_keeps_writing_after_eof(run):
    async def main():
        loop = asyncio.get_running_loop()
        got = loop.create_future()

        class Replier(asyncio.Protocol):
            def connection_made(self, t):
                self.t = t
                self.buf = b""

            def data_received(self, data):
                self.buf += data

            def eof_received(self):
                # Half-closed: reply after the peer's EOF, then close.
                loop.call_later(0.05, self.reply)
                return True

            def reply(self):
                self.t.write(b"you said " + self.buf)
                self.t.write(b"; bye")
                self.t.close()

            def connection_lost(self, exc):
                got.set_result(exc)

        server = await loop.create_server(Replier, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            t, p = await loop.create_connection(lambda: Recorder(keep_open=True), "127.0.0.1", port)
            t.write(b"hello")
            t.write_eof()
            t.write_eof()   # idempotent
            assert t.can_write_eof()
            await p.eof
            assert bytes(p.data) == b"you said hello; bye"
            assert await got is None
            assert not p.closed.done()     # keep_open: our side stays open
            t.close()
            assert await p.closed is None
            assert p.events == ["connection_made", "data_received", "eof_received", "connection_lost"]
    run(main)


def test_eof_received_false_closes_transport(run):
    async def main():
        loop = asyncio.get_running_loop()
        server_closed = loop.create_future()

        class Closer(asyncio.Protocol):
            def connection_made(self, t):
                t.close()

            def connection_lost(self, exc):
                server_closed.set_result(exc)

        server = await loop.create_server(Closer, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            t, p = await loop.create_connection(lambda: Recorder(keep_open=False), "127.0.0.1", port)
            assert await p.closed is None
            assert t.is_closing()
            assert p.events == ["connection_made", "eof_received", "connection_lost"]
            assert await server_closed is None
    run(main)


def test_abort_drops_buffer_and_calls_connection_lost_none(run):
    async def main():
        loop = asyncio.get_running_loop()
        server_side = loop.create_future()

        class Stuck(Recorder):
            def connection_made(self, t):
                super().connection_made(t)
                t.pause_reading()
                server_side.set_result(self)

        server = await loop.create_server(Stuck, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            t, p = await loop.create_connection(Recorder, "127.0.0.1", port)
            t.write(pattern(16 * 1024 * 1024))
            assert t.get_write_buffer_size() > 0
            t.abort()
            assert t.is_closing()
            assert t.get_write_buffer_size() == 0
            t.abort()
            t.close()
            t.write(b"ignored after abort")
            assert await p.closed is None
            assert p.events == ["connection_made", "connection_lost"]
            # The paused server side learns of it once it reads again: it
            # gets what was sent before the abort, then EOF or a reset.
            srv = await server_side
            srv.transport.resume_reading()
            exc = await srv.closed
            assert exc is None or isinstance(exc, ConnectionResetError)
    run(main)


def test_peer_reset_reaches_connection_lost_as_connection_reset(run):
    async def main():
        loop = asyncio.get_running_loop()
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen()
        lsock.setblocking(False)
        with lsock:
            port = lsock.getsockname()[1]
            t, p = await loop.create_connection(Recorder, "127.0.0.1", port)
            conn, _ = await loop.sock_accept(lsock)
            with conn:
                conn.sendall(b"before reset")
                await p.wait_bytes(12)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            exc = await p.closed
            assert isinstance(exc, ConnectionResetError)
            assert exc.errno == errno.ECONNRESET
            assert t.is_closing()
            assert p.events == ["connection_made", "data_received", "connection_lost"]
    run(main)


def test_write_after_peer_reset_reports_error_once(run):
    async def main():
        loop = asyncio.get_running_loop()
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen()
        lsock.setblocking(False)
        with lsock:
            port = lsock.getsockname()[1]
            t, p = await loop.create_connection(Recorder, "127.0.0.1", port)
            t.pause_reading()       # learn of the reset by writing
            conn, _ = await loop.sock_accept(lsock)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            await asyncio.sleep(0.05)
            for _ in range(100):
                t.write(b"x" * 1000)
                if t.is_closing():
                    break
                await asyncio.sleep(0.01)
            exc = await p.closed
            assert isinstance(exc, (ConnectionResetError, BrokenPipeError))
            for _ in range(10):
                t.write(b"more")     # counted and dropped, no exception
    run(main)


def test_connection_refused(run):
    async def main():
        loop = asyncio.get_running_loop()
        port = free_port()
        with pytest.raises(ConnectionRefusedError) as info:
            await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        assert info.value.errno == errno.ECONNREFUSED
        assert str(info.value) == f"[Errno 111] Connect call failed ('127.0.0.1', {port})"
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
    run(main)


def test_unix_connect_errors(run, unix_path):
    async def main():
        loop = asyncio.get_running_loop()
        with pytest.raises(FileNotFoundError):
            await loop.create_unix_connection(asyncio.Protocol, unix_path)
        s = socket.socket(socket.AF_UNIX)
        s.bind(unix_path)     # bound, not listening
        with s:
            with pytest.raises(ConnectionRefusedError):
                await loop.create_unix_connection(asyncio.Protocol, unix_path)
    run(main)


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_get_extra_info(run, kind, unix_path):
    async def main():
        loop = asyncio.get_running_loop()
        srv_transports = []

        class P(EchoServer):
            def connection_made(self, t):
                super().connection_made(t)
                srv_transports.append(t)

        if kind == "tcp":
            server = await loop.create_server(P, "127.0.0.1", 0)
            addr = server.sockets[0].getsockname()
            t, p = await loop.create_connection(Recorder, *addr)
        else:
            server = await loop.create_unix_server(P, unix_path)
            addr = unix_path
            t, p = await loop.create_unix_connection(Recorder, unix_path)
        async with server:
            t.write(b"x")
            await p.wait_bytes(1)
            st = srv_transports[0]
            sock = t.get_extra_info("socket")
            assert isinstance(sock, asyncio.trsock.TransportSocket)
            assert sock.fileno() >= 0
            assert sock.type == socket.SOCK_STREAM
            assert t.get_extra_info("peername") == addr
            assert t.get_extra_info("sockname") == sock.getsockname()
            assert st.get_extra_info("peername") == t.get_extra_info("sockname")
            assert st.get_extra_info("sockname") == addr
            for key in ("sslcontext", "ssl_object", "peercert", "cipher", "compression", "pipe", "nope"):
                assert t.get_extra_info(key) is None
            assert t.get_extra_info("nope", 42) == 42
            assert t.get_protocol() is p
            assert "fd=" in repr(t)
            t.close()
            await p.closed
            # Extra info stays readable after close, as asyncio.
            assert t.get_extra_info("peername") == addr
    run(main)


def test_set_protocol_switches_mid_stream(run):
    async def main():
        loop = asyncio.get_running_loop()
        first_done = loop.create_future()

        class First(asyncio.Protocol):
            def __init__(self):
                self.data = b""

            def connection_made(self, t):
                self.t = t

            def data_received(self, data):
                self.data += data
                if b"\n" in self.data:
                    head, _, rest = self.data.partition(b"\n")
                    second = BufferedRecorder(keep_open=False)
                    self.t.set_protocol(second)
                    assert self.t.get_protocol() is second
                    second.data += rest
                    first_done.set_result((head, second))

        server = await loop.create_server(First, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            t, p = await loop.create_connection(Recorder, "127.0.0.1", port)
            t.write(b"switch\n")
            head, second = await first_done
            assert head == b"switch"
            second.transport = None
            payload = pattern(200_000, 7)
            t.write(payload)
            await second.wait_bytes(len(payload))
            assert bytes(second.data) == payload
            t.close()
            assert await second.closed is None
            assert second.events == ["data_received", "eof_received", "connection_lost"]
    run(main)


def test_pause_resume_reading(run):
    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(EchoServer, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            t, p = await loop.create_connection(Recorder, "127.0.0.1", port)
            assert t.is_reading()
            t.pause_reading()
            assert not t.is_reading()
            t.write(b"echo me")
            await asyncio.sleep(0.1)
            assert p.data == b""
            t.resume_reading()
            assert t.is_reading()
            await p.wait_bytes(7)
            assert bytes(p.data) == b"echo me"
            t.close()
            assert not t.is_reading()
            t.pause_reading()
            t.resume_reading()
            assert not t.is_reading()
            await p.closed
    run(main)


def test_pause_reading_in_connection_made_holds_until_resume(run):
    async def main():
        loop = asyncio.get_running_loop()

        class Paused(Recorder):
            def connection_made(self, t):
                super().connection_made(t)
                t.pause_reading()

        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen()
        lsock.setblocking(False)
        with lsock:
            port = lsock.getsockname()[1]
            t, p = await loop.create_connection(Paused, "127.0.0.1", port)
            conn, _ = await loop.sock_accept(lsock)
            with conn:
                conn.sendall(b"early")
                await asyncio.sleep(0.1)
                assert p.data == b""
                assert not t.is_reading()
                t.resume_reading()
                await p.wait_bytes(5)
            assert await p.closed is None
    run(main)


class Failing(Recorder):
    def __init__(self, where):
        super().__init__()
        self.where = where

    def data_received(self, data):
        if self.where == "data_received":
            raise ValueError("boom")
        super().data_received(data)

    def eof_received(self):
        if self.where == "eof_received":
            raise ValueError("boom")
        return super().eof_received()


class FailingBuffered(BufferedRecorder):
    def __init__(self, where):
        super().__init__()
        self.where = where

    def get_buffer(self, sizehint):
        if self.where == "get_buffer raises":
            raise ValueError("boom")
        if self.where == "get_buffer empty":
            return bytearray()
        if self.where == "get_buffer read-only":
            return b"\0" * 100
        return super().get_buffer(sizehint)

    def buffer_updated(self, nbytes):
        if self.where == "buffer_updated":
            raise ValueError("boom")
        super().buffer_updated(nbytes)


PROTOCOL_FAILURES = {
    # where: (protocol class, message to the exception handler, exception type)
    "data_received": (Failing, "Fatal error: protocol.data_received() call failed.", ValueError),
    "eof_received": (Failing, "Fatal error: protocol.eof_received() call failed.", ValueError),
    "get_buffer raises": (FailingBuffered, "Fatal error: protocol.get_buffer() call failed.", ValueError),
    "get_buffer empty": (FailingBuffered, "Fatal error: protocol.get_buffer() call failed.", RuntimeError),
    "get_buffer read-only": (FailingBuffered, "Fatal read error on socket transport", TypeError),
    "buffer_updated": (FailingBuffered, "Fatal error: protocol.buffer_updated() call failed.", ValueError),
}


@pytest.mark.parametrize("where", list(PROTOCOL_FAILURES))
def test_protocol_callback_failure_closes_transport(run, where):
    """A protocol callback that raises: one report to the exception handler
    with asyncio's message, then connection_lost(that exception), once."""
    cls, message, exc_type = PROTOCOL_FAILURES[where]

    async def main():
        loop = asyncio.get_running_loop()
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen()
        lsock.setblocking(False)
        with lsock:
            t, p = await loop.create_connection(lambda: cls(where), *lsock.getsockname())
            conn, _ = await loop.sock_accept(lsock)
            with conn:
                if where == "eof_received":
                    conn.shutdown(socket.SHUT_WR)
                else:
                    conn.sendall(b"data")
                exc = await p.closed
                assert isinstance(exc, exc_type)
                assert t.is_closing()
                await asyncio.sleep(0.05)
        assert [(c["message"], type(c["exception"])) for c in run.errors] == [(message, exc_type)]
        assert run.errors[0]["protocol"] is p
        run.errors.clear()
    run(main)


def test_sendfile_fails_when_transport_is_aborted_while_draining(run, tmp_path):
    """loop.sendfile() first waits for the write buffer to drain; a
    connection lost meanwhile fails it with ConnectionError (as asyncio)
    instead of leaving it waiting forever."""
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100_000)

    async def main():
        loop = asyncio.get_running_loop()

        stuck = []

        class Stuck(asyncio.Protocol):
            def connection_made(self, t):
                stuck.append(t)
                t.pause_reading()

        server = await loop.create_server(Stuck, "127.0.0.1", 0)
        async with server:
            t, p = await loop.create_connection(Recorder, *server.sockets[0].getsockname())
            t.write(b"y" * 16 * 1024 * 1024)
            assert t.get_write_buffer_size() > 0
            with open(path, "rb") as f:
                task = asyncio.ensure_future(loop.sendfile(t, f))
                await asyncio.sleep(0.05)
                assert not task.done()
                t.abort()
                with pytest.raises(ConnectionError):
                    await asyncio.wait_for(task, 5)
            assert await p.closed is None
            for tr in stuck:
                tr.abort()
    run(main)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_writes_against_a_stuttering_reader_arrive_intact(run, seed):
    """Seeded random mix of write()/writelines() of bytes, bytearray and
    memoryview pieces (1 byte to 200 KiB, many tiny ones so the queue holds
    hundreds of items and spans several writev batches), against a reader
    that pauses at random: every byte arrives, in order."""
    import random

    async def main():
        loop = asyncio.get_running_loop()
        rng = random.Random(seed)
        done = loop.create_future()
        total = 0
        h_sent = hashlib.sha256()

        class Stutter(asyncio.Protocol):
            def connection_made(self, t):
                self.t = t
                self.h = hashlib.sha256()
                self.n = 0
                self.rng = random.Random(seed + 100)

            def data_received(self, data):
                self.h.update(data)
                self.n += len(data)
                if self.rng.random() < 0.3:
                    self.t.pause_reading()
                    loop.call_later(self.rng.random() * 0.003, self.t.resume_reading)

            def eof_received(self):
                done.set_result((self.n, self.h.hexdigest()))

        server = await loop.create_server(Stutter, "127.0.0.1", 0)
        async with server:
            t, p = await loop.create_connection(lambda: Recorder(keep_open=True), *server.sockets[0].getsockname())
            t.set_write_buffer_limits(high=4 * 1024 * 1024)
            source = pattern(1 << 20, seed)
            for step in range(300):
                pieces = []
                for _ in range(rng.choice([1, 1, 2, 5, 80])):
                    size = rng.choice([1, 7, 100, 1500, 64 * 1024, 200 * 1024])
                    off = rng.randrange(0, len(source) - size)
                    raw = source[off:off + size]
                    kind = rng.randrange(3)
                    piece = raw if kind == 0 else bytearray(raw) if kind == 1 else memoryview(raw)
                    pieces.append(piece)
                    h_sent.update(raw)
                    total += size
                if len(pieces) == 1 and rng.random() < 0.5:
                    t.write(pieces[0])
                else:
                    t.writelines(pieces)
                if run.name == "aioloop":
                    # aioloop copies what it queues: the caller may reuse
                    # its bytearray at once. (Stock asyncio 3.12+ queues a
                    # view of it, and would send the new contents.)
                    for piece in pieces:
                        if isinstance(piece, bytearray):
                            piece[:] = b"\xff" * len(piece)
                if t.get_write_buffer_size() > 2 * 1024 * 1024 or rng.random() < 0.05:
                    await asyncio.sleep(0)
            t.write_eof()
            n, digest = await done
            assert n == total
            assert digest == h_sent.hexdigest()
            t.close()
            await p.closed
    run(main, timeout=120)


# --- memoryviews with gaps (view[::2]) ----------------------------------------
# socket.send() refuses a non-contiguous buffer with BufferError. asyncio
# makes that a fatal write error, or, behind queued data, 3.11's bytearray
# buffer refuses it with TypeError while 3.12+ queue the view and fail when
# the queue reaches it.

GAPPED = memoryview(b"abcdef")[::2]
BUFFER_ERROR = "underlying buffer is not C-contiguous"


async def _gapped_pair(loop):
    a, b = socket.socketpair()
    t, p = await loop.create_connection(Recorder, sock=a)
    b.setblocking(False)
    return t, p, b


async def _read_all(loop, sock):
    got = bytearray()
    while True:
        data = await loop.sock_recv(sock, 1 << 20)
        if not data:
            return bytes(got)
        got += data


def _take_fatal_write_error(run):
    assert [(e["message"], type(e["exception"])) for e in run.errors] == [
        ("Fatal write error on socket transport", BufferError)]
    assert BUFFER_ERROR in str(run.errors[0]["exception"])
    run.errors.clear()


def test_write_of_a_gapped_memoryview_is_a_fatal_write_error(run):
    async def main():
        loop = asyncio.get_running_loop()
        t, p, b = await _gapped_pair(loop)
        with b:
            assert t.write(GAPPED) is None
            assert t.is_closing()
            exc = await p.closed
            assert isinstance(exc, BufferError) and BUFFER_ERROR in str(exc)
            assert await _read_all(loop, b) == b""
    run(main)
    _take_fatal_write_error(run)


def test_write_of_a_gapped_memoryview_behind_queued_data(run):
    async def main():
        loop = asyncio.get_running_loop()
        t, p, b = await _gapped_pair(loop)
        with b:
            t.write(b"x" * TOTAL)
            assert t.get_write_buffer_size()
            if sys.version_info < (3, 12):
                with pytest.raises(TypeError, match="can't set bytearray slice from memoryview"):
                    t.write(GAPPED)
                assert not t.is_closing()
                t.close()
                assert await _read_all(loop, b) == b"x" * TOTAL
                assert await p.closed is None
            else:
                assert t.write(GAPPED) is None
                got = await _read_all(loop, b)
                assert len(got) < TOTAL and set(got) <= {ord("x")}
                assert isinstance(await p.closed, BufferError)
    run(main)
    if sys.version_info >= (3, 12):
        _take_fatal_write_error(run)


def test_writelines_with_a_gapped_memoryview(run):
    async def main():
        loop = asyncio.get_running_loop()
        t, p, b = await _gapped_pair(loop)
        with b:
            if sys.version_info < (3, 12):
                # 3.11's writelines() is write(b"".join(list_of_data)).
                with pytest.raises(TypeError, match="sequence item 1: expected a bytes-like object"):
                    t.writelines([b"1", GAPPED, b"2"])
                t.write(b"3")
                t.close()
                assert await _read_all(loop, b) == b"3"
                assert await p.closed is None
            else:
                assert t.writelines([b"1", GAPPED, b"2"]) is None
                assert await _read_all(loop, b) == b""
                assert isinstance(await p.closed, BufferError)
    run(main)
    if sys.version_info >= (3, 12):
        _take_fatal_write_error(run)


@pytest.mark.parametrize("view", [
    memoryview(b"abcdef")[::1],
    memoryview(bytearray(b"abcdef")).cast("B", (2, 3)),
    memoryview(b"abcdef")[::-1][::-1],
], ids=["slice", "2d", "reversed-twice"])
def test_write_of_contiguous_memoryviews_of_any_shape(run, view):
    if run.name == "asyncio" and sys.version_info >= (3, 12) and view.ndim > 1:
        # Its queue advances by len() (rows), not bytes: CPython gh-135862.
        pytest.skip("stock asyncio 3.12+ garbles a queued multi-dimensional view")

    async def main():
        loop = asyncio.get_running_loop()
        t, p, b = await _gapped_pair(loop)
        with b:
            t.write(view)
            t.write(b"x" * TOTAL)
            t.write(view)           # queued behind the rest
            t.writelines([view, b"!"])
            t.close()
            got = await _read_all(loop, b)
            assert got == b"abcdef" + b"x" * TOTAL + b"abcdef" * 2 + b"!"
            assert await p.closed is None
    run(main)


def test_paused_reflects_pause_reading(run):
    # asyncio's socket transports keep pause_reading() in `_paused`, which
    # tests and libraries read.
    async def main():
        loop = asyncio.get_running_loop()
        mine, peer = socket.socketpair()
        with peer:
            t, p = await loop.create_connection(Recorder, sock=mine)
            assert t._paused is False
            t.pause_reading()
            assert t._paused is True and not t.is_reading()
            t.resume_reading()
            assert t._paused is False and t.is_reading()
            t.close()
            assert await p.closed is None
    run(main)
