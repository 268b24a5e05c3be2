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
