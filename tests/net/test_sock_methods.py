"""loop.sock_* coroutines on non-blocking sockets, their cancellation, and
connect_accepted_socket."""

import asyncio
import errno
import io
import os
import socket

import pytest

from .netutil import EchoServer, Recorder, pattern, sha256


def nb(sock):
    sock.setblocking(False)
    return sock


def listener(family=socket.AF_INET):
    s = nb(socket.socket(family, socket.SOCK_STREAM))
    s.bind(("127.0.0.1", 0) if family == socket.AF_INET else ("::1", 0))
    s.listen(16)
    return s


def test_sock_connect_accept_sendall_recv_recv_into(run):
    async def main():
        loop = asyncio.get_running_loop()
        with listener() as ls, nb(socket.socket()) as c:
            accept = asyncio.ensure_future(loop.sock_accept(ls))
            await asyncio.sleep(0)
            assert not accept.done()
            await loop.sock_connect(c, ls.getsockname())
            conn, addr = await accept
            with conn:
                assert addr == c.getsockname()
                assert conn.gettimeout() == 0     # accepted sockets are non-blocking
                big = pattern(4 * 1024 * 1024, 11)
                send = asyncio.ensure_future(loop.sock_sendall(c, big))
                got = bytearray()
                buf = bytearray(65536)
                while len(got) < len(big):
                    if len(got) % 2:
                        chunk = await loop.sock_recv(conn, 100_000)
                    else:
                        n = await loop.sock_recv_into(conn, buf)
                        chunk = buf[:n]
                    assert chunk
                    got += chunk
                assert await send is None
                assert sha256(got) == sha256(big)
                c.shutdown(socket.SHUT_WR)
                assert await loop.sock_recv(conn, 10) == b""
                assert await loop.sock_recv_into(conn, buf) == 0
    run(main)


def test_sock_connect_resolves_names(run):
    async def main():
        loop = asyncio.get_running_loop()
        with listener() as ls, nb(socket.socket()) as c:
            await loop.sock_connect(c, ("localhost", ls.getsockname()[1]))
            assert c.getpeername() == ls.getsockname()
            conn, _ = await loop.sock_accept(ls)
            conn.close()
    run(main)


def test_sock_connect_refused(run):
    async def main():
        loop = asyncio.get_running_loop()
        with socket.socket() as tmp:
            tmp.bind(("127.0.0.1", 0))
            addr = tmp.getsockname()
        with nb(socket.socket()) as c:
            with pytest.raises(ConnectionRefusedError) as info:
                await loop.sock_connect(c, addr)
            assert info.value.errno == errno.ECONNREFUSED
    run(main)


def test_sock_datagram_methods(run):
    async def main():
        loop = asyncio.get_running_loop()
        with nb(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as a, \
                nb(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as b:
            a.bind(("127.0.0.1", 0))
            b.bind(("127.0.0.1", 0))
            recv = asyncio.ensure_future(loop.sock_recvfrom(b, 1000))
            await asyncio.sleep(0)
            assert not recv.done()
            assert await loop.sock_sendto(a, b"hello", b.getsockname()) == 5
            assert await recv == (b"hello", a.getsockname())
            buf = bytearray(100)
            recv = asyncio.ensure_future(loop.sock_recvfrom_into(b, buf))
            await asyncio.sleep(0)
            await loop.sock_sendto(a, memoryview(b"world!"), b.getsockname())
            assert await recv == (6, a.getsockname())
            assert buf[:6] == b"world!"
            await loop.sock_sendto(a, b"truncated", b.getsockname())
            n, addr = await loop.sock_recvfrom_into(b, buf, 4)
            assert (n, bytes(buf[:4])) == (4, b"trun")
    run(main)


def test_sock_methods_require_nonblocking_in_debug(run):
    async def main():
        loop = asyncio.get_running_loop()
        loop.set_debug(True)
        with socket.socket() as s:        # blocking
            for call in (lambda: loop.sock_recv(s, 1),
                         lambda: loop.sock_recv_into(s, bytearray(1)),
                         lambda: loop.sock_sendall(s, b"x"),
                         lambda: loop.sock_connect(s, ("127.0.0.1", 1)),
                         lambda: loop.sock_accept(s)):
                with pytest.raises(ValueError, match="must be non-blocking"):
                    await call()
        loop.set_debug(False)
    run(main)


def _raw_pair():
    a, b = socket.socketpair()
    return nb(a), nb(b)


@pytest.mark.parametrize("method", ["sock_recv", "sock_recv_into", "sock_recvfrom", "sock_recvfrom_into"])
def test_cancelled_recv_leaves_no_registration(run, method):
    async def main():
        loop = asyncio.get_running_loop()
        a, b = _raw_pair()
        with a, b:
            args = {"sock_recv": (b, 100), "sock_recvfrom": (b, 100)}.get(method, (b, bytearray(100)))
            task = asyncio.ensure_future(getattr(loop, method)(*args))
            await asyncio.sleep(0.01)
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # Nothing is registered for the fd any more ...
            assert loop.remove_reader(b) is False
            # ... and data that arrives now is not consumed by a ghost.
            a.send(b"data")
            await asyncio.sleep(0.05)
            assert await loop.sock_recv(b, 100) == b"data"
            # The fd can become a transport at once.
            t, p = await loop.create_connection(Recorder, sock=b)
            a.send(b"to transport")
            await p.wait_bytes(12)
            t.close()
            await p.closed
    run(main)


def test_cancelled_accept_connect_sendall_leave_no_registration(run):
    async def main():
        loop = asyncio.get_running_loop()
        with listener() as ls:
            task = asyncio.ensure_future(loop.sock_accept(ls))
            await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert loop.remove_reader(ls) is False
            # A connection that arrives now waits in the backlog for us.
            with nb(socket.socket()) as c:
                await loop.sock_connect(c, ls.getsockname())
                conn, _ = await loop.sock_accept(ls)
                with conn:
                    # sock_sendall blocked on a full buffer, then cancelled.
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
                    task = asyncio.ensure_future(loop.sock_sendall(c, b"x" * 10_000_000))
                    await asyncio.sleep(0.05)
                    assert not task.done()
                    task.cancel()
                    with pytest.raises(asyncio.CancelledError):
                        await task
                    assert loop.remove_writer(c) is False
    run(main)


def test_sock_sendfile_native_and_fallback(run, tmp_path):
    data = pattern(3 * 1024 * 1024 + 17, 12)
    path = tmp_path / "blob"
    path.write_bytes(data)

    async def main():
        loop = asyncio.get_running_loop()
        for use_fileobj, offset, count in [(False, 0, None), (False, 1000, 500_000), (True, 5, None)]:
            a, b = _raw_pair()
            with a, b:
                async def reader(expected):
                    got = bytearray()
                    while len(got) < expected:
                        chunk = await loop.sock_recv(b, 1 << 20)
                        assert chunk
                        got += chunk
                    return bytes(got)

                want = data[offset:offset + count if count else None]
                r = asyncio.ensure_future(reader(len(want)))
                if use_fileobj:
                    f = io.BytesIO(data)     # no fileno(): the fallback path
                    with pytest.raises(asyncio.SendfileNotAvailableError):
                        await loop.sock_sendfile(a, f, offset, count, fallback=False)
                    sent = await loop.sock_sendfile(a, f, offset, count)
                    assert f.tell() == offset + sent
                else:
                    with open(path, "rb") as f:
                        sent = await loop.sock_sendfile(a, f, offset, count)
                        assert f.tell() == offset + sent
                assert sent == len(want)
                assert await r == want
    run(main)


def test_sock_sendfile_checks_arguments(run, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")

    async def main():
        loop = asyncio.get_running_loop()
        a, b = _raw_pair()
        with a, b, open(path, "rb") as f:
            with pytest.raises(ValueError):
                await loop.sock_sendfile(a, f, -1)
            with pytest.raises(ValueError):
                await loop.sock_sendfile(a, f, 0, 0)
            with pytest.raises(TypeError):
                await loop.sock_sendfile(a, f, "0")
            with open(path, "r") as tf:
                with pytest.raises(ValueError, match="binary mode"):
                    await loop.sock_sendfile(a, tf)
            with nb(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as u:
                with pytest.raises(ValueError, match="SOCK_STREAM"):
                    await loop.sock_sendfile(u, f)
    run(main)


@pytest.mark.parametrize("ssl_none", [True])
def test_connect_accepted_socket(run, ssl_none):
    async def main():
        loop = asyncio.get_running_loop()
        with listener() as ls:
            c = socket.create_connection(ls.getsockname())
            conn, _ = ls.accept()
            conn.setblocking(False)
            srv_t, srv_p = await loop.connect_accepted_socket(EchoServer, conn)
            assert isinstance(srv_t, asyncio.Transport)
            t, p = await loop.create_connection(lambda: Recorder(keep_open=True), sock=nb(c))
            t.write(b"accepted elsewhere")
            await p.wait_bytes(18)
            assert bytes(p.data) == b"accepted elsewhere"
            t.write_eof()
            await p.eof
            t.close()
            assert await p.closed is None
            with nb(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as u:
                with pytest.raises(ValueError, match="A Stream Socket was expected"):
                    await loop.connect_accepted_socket(EchoServer, u)
            srv_t.close()
            await asyncio.sleep(0)
    run(main)


def test_transport_fd_refuses_readers_and_sock_methods(run):
    async def main():
        loop = asyncio.get_running_loop()
        a, b = _raw_pair()
        with a:
            t, p = await loop.create_connection(Recorder, sock=b)
            for call in (lambda: loop.add_reader(b, print), lambda: loop.add_writer(b.fileno(), print),
                         lambda: loop.remove_reader(b), lambda: loop.remove_writer(b)):
                with pytest.raises(RuntimeError, match="is used by transport"):
                    call()
            t.close()
            # Once closing, the fd is no longer the transport's to defend.
            assert loop.remove_reader(b) is False
            await p.closed
    run(main)


@pytest.mark.parametrize("second", ["sock_recv", "add_reader"])
def test_wait_on_a_reused_fd_number_after_close(run, second):
    """sock_recv() on a socket that is then closed; a new socket gets the
    same fd number: waiting on it must work (the kernel forgot the old
    registration when the fd was closed)."""
    async def main():
        loop = asyncio.get_running_loop()
        a, b = _raw_pair()
        fd = b.fileno()
        task = asyncio.ensure_future(loop.sock_recv(b, 100))
        await asyncio.sleep(0.01)
        a.send(b"one")
        assert await task == b"one"
        a.close()
        b.close()
        a, b = _raw_pair()
        with a, b:
            if b.fileno() != fd:
                a, b = b, a
            assert b.fileno() == fd, "fd number not reused"
            if second == "sock_recv":
                task = asyncio.ensure_future(loop.sock_recv(b, 100))
            else:
                fut = loop.create_future()
                loop.add_reader(fd, lambda: fut.done() or fut.set_result(b.recv(100)))
                task = fut
            await asyncio.sleep(0.01)
            a.send(b"two")
            assert await asyncio.wait_for(task, 5) == b"two"
            if second == "add_reader":
                assert loop.remove_reader(fd)
    run(main)


# --- the fd of a closing transport ---------------------------------------------
# asyncio refuses readers, writers and sock_* waits on a transport's fd only
# while the transport is open (selector_events._ensure_fd_no_transport); once
# close() has been called they are allowed, until connection_lost() closes
# the socket.

def _stalled_closing_transport_parts():
    """Small kernel buffers, so a peer that does not read keeps a write queue."""
    a, b = _raw_pair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    return a, b


async def _read_exactly(loop, sock, n):
    got = bytearray()
    while len(got) < n:
        data = await loop.sock_recv(sock, 1 << 20)
        assert data, "EOF before all the data arrived"
        got += data
    return bytes(got)


def test_closing_transport_fd_accepts_readers_and_sock_methods(run):
    """close() with data still queued: the transport drains for a while. A
    reader, sock_recv() and remove_reader()/remove_writer() on its fd work
    meanwhile, and the transport still drains and closes."""
    payload = pattern(1 << 20)

    async def main():
        loop = asyncio.get_running_loop()
        a, b = _stalled_closing_transport_parts()
        with a:
            t, p = await loop.create_connection(Recorder, sock=b)
            fd = b.fileno()
            t.write(payload)
            assert t.get_write_buffer_size()
            t.close()
            assert t.is_closing()

            got = loop.create_future()
            assert loop.add_reader(fd, lambda: got.done() or got.set_result(b.recv(100))) is None
            a.send(b"ping")
            assert await asyncio.wait_for(got, 5) == b"ping"
            assert loop.remove_reader(fd) is True
            assert loop.remove_reader(b) is False

            task = asyncio.ensure_future(loop.sock_recv(b, 100))
            await asyncio.sleep(0.01)
            assert not task.done()
            a.send(b"pong")
            assert await asyncio.wait_for(task, 5) == b"pong"
            await loop.sock_sendall(b, b"")

            # The transport's own queue was not disturbed.
            assert not p.closed.done()
            assert await _read_exactly(loop, a, len(payload)) == payload
            assert await asyncio.wait_for(p.closed, 5) is None
            assert await loop.sock_recv(a, 100) == b""
            assert b.fileno() == -1
    run(main)


def test_reader_and_writer_on_a_closing_transport_fd_fire_until_its_socket_closes(run):
    """close() with nothing queued: connection_lost() comes on the next pass.
    A writer added meanwhile runs once on that pass (after connection_lost(),
    as on asyncio), never again: the socket is closed."""
    order = []

    class Lost(Recorder):
        def connection_lost(self, exc):
            order.append("connection_lost")
            super().connection_lost(exc)

    async def main():
        loop = asyncio.get_running_loop()
        a, b = _raw_pair()
        with a:
            t, p = await loop.create_connection(Lost, sock=b)
            fd = b.fileno()
            t.close()
            loop.add_writer(fd, order.append, "writer")
            loop.add_reader(fd, order.append, "reader")     # not readable
            await p.closed
            await asyncio.sleep(0.05)
            assert order == ["connection_lost", "writer"]
            assert b.fileno() == -1
    run(main)


@pytest.mark.parametrize("what", ["reader", "writer", "writer-removed", "reader-removed", "sock_recv"])
def test_fd_of_a_closed_transport_is_reusable_after_connection_lost(run, what):
    """What was added on a closing transport's fd does not disturb its
    draining, and goes with its socket: the fd number, reused by a new
    socket, serves a new transport normally.

    Stock asyncio is no oracle for some of these: its selector key holds one
    writer, so add_writer() replaces the transport's own (and remove_writer()
    removes it): the queue never drains; and it keeps the closed fd's key
    until remove_reader() (or a cancelled sock_recv()) drops it, so a new
    transport on the reused number never reads."""
    if run.name == "asyncio" and what in ("reader", "writer", "writer-removed"):
        pytest.skip("asyncio: one writer per selector key; stale key after close")

    async def main():
        loop = asyncio.get_running_loop()
        a, b = _stalled_closing_transport_parts()
        fd = b.fileno()
        with a:
            t, p = await loop.create_connection(Recorder, sock=b)
            t.write(b"x" * (1 << 20))       # close() waits for the queue
            t.close()
            if what == "sock_recv":
                task = asyncio.ensure_future(loop.sock_recv(b, 100))
            elif what.startswith("writer"):
                loop.add_writer(fd, lambda: None)
            else:
                loop.add_reader(fd, lambda: None)
            await asyncio.sleep(0.01)
            if what == "writer-removed":
                assert loop.remove_writer(fd) is True
            await _read_exactly(loop, a, 1 << 20)
            await asyncio.wait_for(p.closed, 5)
            await asyncio.sleep(0.01)
            if what == "sock_recv":
                # Nothing will ever wake it: the socket it waits on is closed.
                assert not task.done()
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            elif what == "reader-removed":
                loop.remove_reader(fd)
        c, d = _raw_pair()
        with c:
            if d.fileno() != fd:
                c, d = d, c
            assert d.fileno() == fd, "fd number not reused"
            t2, p2 = await loop.create_connection(Recorder, sock=d)
            c.send(b"hello")
            await asyncio.wait_for(p2.wait_bytes(5), 5)
            assert bytes(p2.data) == b"hello"
            t2.write(b"back")
            assert await _read_exactly(loop, c, 4) == b"back"
            t2.close()
            await p2.closed
    run(main)


def test_sock_recv_of_bulk_then_small_data_returns_exactly_what_was_sent(run):
    # Large reads are received straight into the returned bytes (sized by
    # FIONREAD), small ones through the loop's buffer: alternate between the
    # two and check every byte and every boundary.
    async def main():
        loop = asyncio.get_running_loop()
        with listener() as ls, nb(socket.socket()) as c:
            accept = asyncio.ensure_future(loop.sock_accept(ls))
            await loop.sock_connect(c, ls.getsockname())
            conn, _ = await accept
            with conn:
                for round_ in range(6):
                    size = (300_000, 5, 70_000, 40_000, 1, 200_000)[round_]
                    data = pattern(size, round_)
                    await loop.sock_sendall(c, data)
                    got = bytearray()
                    while len(got) < size:
                        chunk = await loop.sock_recv(conn, min(262_144, size - len(got)))
                        assert type(chunk) is bytes and 0 < len(chunk) <= size - len(got)
                        got += chunk
                    assert got == data
                c.shutdown(socket.SHUT_WR)
                assert await loop.sock_recv(conn, 262_144) == b""
    run(main)
