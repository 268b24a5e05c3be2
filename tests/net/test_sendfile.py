"""loop.sendfile(): os.sendfile() on a plain stream transport, the
read/write fallback on a TLS transport and for files os.sendfile() cannot
send (no fileno(), a pipe); checksums end to end."""

import asyncio
import errno
import hashlib
import inspect
import io
import os
import socket
import ssl
import sys

import pytest

from helpers import tls_ca

from .netutil import Recorder

SIZE = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sendfile") / "blob"
    h = hashlib.sha256()
    with open(path, "wb") as f:
        block = os.urandom(1024 * 1024)
        for i in range(SIZE // len(block)):
            chunk = bytes([i & 0xFF]) + block[1:]   # no two MiB alike
            h.update(chunk)
            f.write(chunk)
    return path, h.hexdigest()


class HashingSink(asyncio.Protocol):
    """Hashes what it receives; once `expect` bytes arrived (or at EOF)
    answers '<nbytes> <sha256>' and closes."""

    expect = None

    def connection_made(self, t):
        self.t = t
        self.h = hashlib.sha256()
        self.n = 0

    def data_received(self, data):
        self.h.update(data)
        self.n += len(data)
        if self.n == self.expect:
            self.reply()

    def reply(self):
        self.t.write(b"%d %s" % (self.n, self.h.hexdigest().encode()))
        self.t.close()

    def eof_received(self):
        self.reply()
        return True


class SizedSink(HashingSink):
    expect = SIZE


def _tls(request):
    ca = tls_ca()
    sctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(sctx)
    cctx = ssl.create_default_context()
    ca.configure_trust(cctx)
    return sctx, cctx


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_sendfile_50mb_checksum(run, big_file, tls, request):
    path, digest = big_file
    sctx = cctx = None
    if tls:
        sctx, cctx = _tls(request)

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(SizedSink, "127.0.0.1", 0, ssl=sctx)
        port = server.sockets[0].getsockname()[1]
        async with server:
            t, p = await loop.create_connection(
                lambda: Recorder(keep_open=True), "127.0.0.1", port,
                ssl=cctx, server_hostname="localhost" if tls else None)
            t.write(b"")     # nothing queued before sendfile
            with open(path, "rb") as f:
                if tls:
                    # No zero-copy under TLS: native is refused ...
                    with pytest.raises(RuntimeError, match="fallback is disabled"):
                        await loop.sendfile(t, f, fallback=False)
                sent = await loop.sendfile(t, f)       # ... the fallback works
                assert sent == SIZE
                assert f.tell() == SIZE
            await p.eof
            assert bytes(p.data).decode() == f"{SIZE} {digest}"
            t.close()
            assert await p.closed is None
    run(main, timeout=120)


def test_sendfile_offset_count_and_writes_around_it(run, big_file):
    path, _ = big_file
    with open(path, "rb") as f:
        f.seek(12345)
        middle = f.read(3_000_000)
    want = b"head" + middle + b"tail"

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(HashingSink, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            t, p = await loop.create_connection(lambda: Recorder(keep_open=True), "127.0.0.1", port)
            t.write(b"head")
            with open(path, "rb") as f:
                task = asyncio.ensure_future(loop.sendfile(t, f, 12345, 3_000_000))
                await asyncio.sleep(0)
                if not task.done():
                    with pytest.raises(RuntimeError, match="sendfile is in progress"):
                        t.write(b"not now")
                assert await task == 3_000_000
                assert f.tell() == 12345 + 3_000_000
            t.write(b"tail")
            t.write_eof()
            await p.eof
            assert bytes(p.data).decode() == f"{len(want)} {hashlib.sha256(want).hexdigest()}"
            # The transport reads again after sendfile.
            assert t.is_reading() or t.is_closing()
            t.close()
            await p.closed
    run(main)


def test_sendfile_argument_checks(run, big_file, tmp_path):
    path, _ = big_file
    text = tmp_path / "t.txt"
    text.write_text("x")

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(HashingSink, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            t, p = await loop.create_connection(Recorder, "127.0.0.1", port)
            with open(path, "rb") as f:
                with pytest.raises(ValueError, match="count must be a positive integer"):
                    await loop.sendfile(t, f, 0, 0)
                with pytest.raises(ValueError, match="offset must be a non-negative integer"):
                    await loop.sendfile(t, f, -1)
            with open(text, "r") as tf:
                with pytest.raises(ValueError, match="binary mode"):
                    await loop.sendfile(t, tf)
            t.close()
            await p.closed
    run(main)


def test_sendfile_cancelled_midway_leaves_transport_usable(run, big_file):
    path, _ = big_file

    async def main():
        loop = asyncio.get_running_loop()
        srv = []

        class Paused(Recorder):
            def connection_made(self, t):
                super().connection_made(t)
                t.pause_reading()
                srv.append(self)

        server = await loop.create_server(Paused, "127.0.0.1", 0)
        async with server:
            t, p = await loop.create_connection(Recorder, *server.sockets[0].getsockname())
            with open(path, "rb") as f:
                task = asyncio.ensure_future(loop.sendfile(t, f))
                await asyncio.sleep(0.1)
                assert not task.done()      # the peer does not read: blocked
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            # Writing and reading work again on the same transport.
            assert t.is_reading()
            t.write(b"after")
            srv[0].transport.write(b"pong")
            await p.wait_bytes(4)
            assert bytes(p.data) == b"pong"
            t.abort()
            assert await p.closed is None
            srv[0].transport.abort()
            await srv[0].closed
    run(main)


def test_sendfile_over_unix_stream(run, big_file, unix_path):
    path, digest = big_file

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_unix_server(SizedSink, unix_path)
        async with server:
            t, p = await loop.create_unix_connection(lambda: Recorder(keep_open=True), unix_path)
            with open(path, "rb") as f:
                assert await loop.sendfile(t, f) == SIZE
            await p.eof
            assert bytes(p.data).decode() == f"{SIZE} {digest}"
            t.close()
            await p.closed
    run(main, timeout=120)


# --- the read/write fallback (base_events._sendfile_fallback) -----------------

FALLBACK_SIZE = 1_000_000


class SlowStartSink(asyncio.Protocol):
    """Collects what arrives; reading starts paused (resume() starts it), so
    the sender's write buffer fills and flow control has to hold it back."""

    def __init__(self):
        loop = asyncio.get_running_loop()
        self.data = bytearray()
        self.conns = loop.create_future()
        self.closed = loop.create_future()
        self.want = None
        self.got = loop.create_future()

    def connection_made(self, t):
        self.t = t
        t.pause_reading()
        self.conns.set_result(t)

    def data_received(self, data):
        self.data += data
        if self.want is not None and len(self.data) >= self.want and not self.got.done():
            self.got.set_result(None)

    def connection_lost(self, exc):
        self.closed.set_result(exc)

    async def expect(self, n):
        self.want = n
        if len(self.data) >= n:
            return
        await self.got


async def _sendfile_pair(loop, kind, unix_path, tls_ctx, small_buffers=False):
    """(client transport, client protocol, sink, server) for `kind`."""
    sink = None

    def make_sink():
        nonlocal sink
        sink = SlowStartSink()
        return sink

    sctx, cctx = tls_ctx if kind == "tls" else (None, None)
    if kind == "unix":
        server = await loop.create_unix_server(make_sink, unix_path)
        t, p = await loop.create_unix_connection(Recorder, unix_path)
    else:
        server = await loop.create_server(make_sink, "127.0.0.1", 0, ssl=sctx)
        port = server.sockets[0].getsockname()[1]
        t, p = await loop.create_connection(
            Recorder, "127.0.0.1", port, ssl=cctx,
            server_hostname="localhost" if kind == "tls" else None)
    while sink is None:
        await asyncio.sleep(0)
    await sink.conns
    if small_buffers:
        # So that a peer that does not read holds the sender back soon
        # (loopback buffers take megabytes otherwise).
        t.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
        sink.t.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    return t, p, sink, server


@pytest.mark.parametrize("kind", ["tcp", "unix", "tls"])
def test_sendfile_fallback_for_a_file_without_fileno(run, kind, unix_path, request):
    """io.BytesIO has no fileno(): loop.sendfile() reads and writes it, 16 KiB
    at a time, waiting while the transport's protocol is paused for writing;
    the file position ends after the data sent."""
    if run.name == "asyncio" and sys.version_info >= (3, 12) and kind != "tls":
        # Its fallback reads every block into one bytearray, and from 3.12 on
        # the socket transport queues a view of what the kernel did not take
        # instead of a copy: the next block overwrites it (the peer gets
        # corrupt data once the write buffer is used, as here).
        pytest.skip("stock asyncio 3.12+ corrupts data queued by the fallback")
    data = os.urandom(FALLBACK_SIZE)
    tls_ctx = _tls(request) if kind == "tls" else None

    async def main():
        loop = asyncio.get_running_loop()
        t, p, sink, server = await _sendfile_pair(loop, kind, unix_path, tls_ctx,
                                                  small_buffers=True)
        async with server:
            high = 64 * 1024
            t.set_write_buffer_limits(high=high)
            peak = 0

            async def watch():
                nonlocal peak
                while True:
                    peak = max(peak, t.get_write_buffer_size())
                    await asyncio.sleep(0.001)

            watcher = asyncio.ensure_future(watch())
            f = io.BytesIO(data)
            task = asyncio.ensure_future(loop.sendfile(t, f))
            await asyncio.sleep(0.1)
            assert not task.done()      # the peer does not read: held back
            sink.t.resume_reading()
            assert await task == FALLBACK_SIZE
            watcher.cancel()
            assert f.tell() == FALLBACK_SIZE
            # The fallback writes one block past the high-water mark at most.
            assert peak <= high + 16384, peak
            await sink.expect(FALLBACK_SIZE)
            assert bytes(sink.data) == data
            # The transport is the caller's again: its protocol, reading, writing.
            assert t.get_protocol() is p
            assert t.is_reading()
            sink.t.write(b"pong")
            await p.wait_bytes(4)
            t.write(b"!")
            await sink.expect(FALLBACK_SIZE + 1)
            t.close()
            assert await p.closed is None
            await sink.closed
    run(main, timeout=60)


@pytest.mark.parametrize("kind", ["tcp", "tls"])
def test_sendfile_fallback_honours_offset_and_count(run, kind, unix_path, request):
    data = os.urandom(200_000)
    tls_ctx = _tls(request) if kind == "tls" else None

    async def main():
        loop = asyncio.get_running_loop()
        t, p, sink, server = await _sendfile_pair(loop, kind, unix_path, tls_ctx)
        sink.t.resume_reading()
        async with server:
            f = io.BytesIO(data)
            assert await loop.sendfile(t, f, 1000, 50_000) == 50_000
            assert f.tell() == 51_000
            assert await loop.sendfile(t, f, 150_000) == 50_000     # to EOF
            assert f.tell() == 200_000
            # An offset past the end sends nothing and leaves the position there.
            assert await loop.sendfile(t, f, 300_000) == 0
            assert f.tell() == 300_000
            await sink.expect(100_000)
            assert bytes(sink.data) == data[1000:51_000] + data[150_000:]
            t.close()
            await p.closed
    run(main)


def test_sendfile_without_fallback_on_a_file_without_fileno(run, unix_path):
    async def main():
        loop = asyncio.get_running_loop()
        t, p, sink, server = await _sendfile_pair(loop, "tcp", unix_path, None)
        sink.t.resume_reading()
        async with server:
            f = io.BytesIO(b"x" * 1000)
            with pytest.raises(asyncio.SendfileNotAvailableError, match="not a regular file"):
                await loop.sendfile(t, f, fallback=False)
            assert f.tell() == 0
            # Nothing was sent, and the transport works as before.
            assert t.is_reading() and not t.is_closing()
            t.write(b"after")
            await sink.expect(5)
            assert bytes(sink.data) == b"after"
            t.close()
            await p.closed
    run(main)


class PipeSource:
    """A readable stream with a real fileno() that os.sendfile() refuses (a
    pipe cannot be read at an offset), and no seek(): asyncio's fallback
    then leaves the position alone, as it must for a stream."""

    def __init__(self, data):
        r, w = os.pipe()
        os.write(w, data)
        os.close(w)
        self.f = open(r, "rb", buffering=0)

    def fileno(self):
        return self.f.fileno()

    def readinto(self, buf):
        return self.f.readinto(buf)


# Later 3.13 patch releases of asyncio rewind the source with lseek() before
# reporting that os.sendfile() refused it; a pipe cannot seek, so the refusal
# surfaces as OSError(ESPIPE) and no fallback happens. Both loops share that
# code (aioloop binds asyncio's own _sock_sendfile_native_impl).
_REFUSAL_LSEEKS_A_PIPE = "total_sent" not in inspect.signature(
    asyncio.unix_events._UnixSelectorEventLoop._sock_sendfile_update_filepos).parameters


def test_sendfile_fallback_when_os_sendfile_refuses_the_file(run, unix_path):
    data = os.urandom(50_000)     # fits in the pipe's buffer

    async def main():
        loop = asyncio.get_running_loop()
        t, p, sink, server = await _sendfile_pair(loop, "tcp", unix_path, None)
        sink.t.resume_reading()
        async with server:
            src = PipeSource(data)
            with src.f:
                if _REFUSAL_LSEEKS_A_PIPE:
                    for fallback in (False, True):
                        with pytest.raises(OSError) as err:
                            await loop.sendfile(t, src, 0, len(data), fallback=fallback)
                        assert err.value.errno == errno.ESPIPE
                    assert t.is_reading() and t.get_write_buffer_size() == 0
                    t.close()
                    await p.closed
                    return
                with pytest.raises(asyncio.SendfileNotAvailableError, match="os.sendfile call failed"):
                    await loop.sendfile(t, src, 0, len(data), fallback=False)
                assert t.is_reading()
                assert await loop.sendfile(t, src, 0, len(data)) == len(data)
            await sink.expect(len(data))
            assert bytes(sink.data) == data
            t.close()
            await p.closed
    run(main)


def test_sendfile_fallback_fails_when_the_connection_is_lost(run, unix_path):
    """The peer resets the connection while the fallback waits for the write
    buffer to drain: sendfile() raises, connection_lost() reaches the
    caller's protocol."""
    async def main():
        loop = asyncio.get_running_loop()
        t, p, sink, server = await _sendfile_pair(loop, "tcp", unix_path, None, small_buffers=True)
        async with server:
            f = io.BytesIO(os.urandom(FALLBACK_SIZE))
            task = asyncio.ensure_future(loop.sendfile(t, f))
            await asyncio.sleep(0.1)
            assert not task.done()
            sink.t.abort()
            with pytest.raises(ConnectionResetError):
                await task
            assert isinstance(await p.closed, ConnectionResetError)
            assert 0 < f.tell() < FALLBACK_SIZE
    run(main)


def test_sendfile_on_datagram_and_pipe_transports_is_not_supported(run, tmp_path):
    async def main():
        loop = asyncio.get_running_loop()
        f = io.BytesIO(b"data")
        dt, dp = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                     local_addr=("127.0.0.1", 0))
        with pytest.raises(RuntimeError, match="sendfile is not supported"):
            await loop.sendfile(dt, f)
        dt.close()
        r, w = os.pipe()
        with open(r, "rb", buffering=0) as rf:
            pt, pp = await loop.connect_write_pipe(asyncio.BaseProtocol, open(w, "wb", buffering=0))
            with pytest.raises(RuntimeError, match="sendfile is not supported"):
                await loop.sendfile(pt, f)
            pt.close()
            await asyncio.sleep(0)
        await asyncio.sleep(0)
    run(main)
