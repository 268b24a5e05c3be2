"""loop.sendfile(): os.sendfile() on a plain stream transport, the
read/write fallback on a TLS transport; checksums end to end."""

import asyncio
import hashlib
import os
import ssl

import pytest

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
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
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
