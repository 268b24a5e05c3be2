"""create_connection: name resolution, happy eyeballs with a black-holed
first address, multiple failures, local_addr, getaddrinfo/getnameinfo."""

import asyncio
import select
import socket
import sys

import pytest

from .netutil import EchoServer, Recorder, free_port


@pytest.fixture
def blackhole():
    """('127.0.0.1', port) of a listener whose accept queue is full, so the
    kernel drops new SYNs: a connect() there neither succeeds nor fails for
    a second or more (the first SYN retransmission)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    addr = ls.getsockname()
    fillers = []
    try:
        for _ in range(32):
            c = socket.socket()
            c.setblocking(False)
            fillers.append(c)
            c.connect_ex(addr)
            _, w, _ = select.select([], [c], [], 0.3)
            if not w:
                break       # this one hangs: the queue is full
        else:
            pytest.skip("could not fill a listen backlog")
        yield addr
    finally:
        for c in fillers:
            c.close()
        ls.close()


def fake_resolver(loop, addrs):
    infos = [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", a) for a in addrs]
    calls = []

    async def getaddrinfo(host, port, *, family=0, type=0, proto=0, flags=0):
        calls.append((host, port))
        return list(infos)

    loop.getaddrinfo = getaddrinfo
    return calls


def test_happy_eyeballs_skips_black_holed_first_address(run, blackhole):
    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(EchoServer, "127.0.0.1", 0)
        good = server.sockets[0].getsockname()
        async with server:
            calls = fake_resolver(loop, [blackhole, good])
            t, p = await loop.create_connection(
                lambda: Recorder(keep_open=True), "two.addresses.invalid", 4242,
                happy_eyeballs_delay=0.1)
            assert calls == [("two.addresses.invalid", 4242)]
            assert t.get_extra_info("peername") == good
            t.write(b"eyeballs")
            t.write_eof()
            await p.eof
            assert bytes(p.data) == b"eyeballs"
            t.close()
            await p.closed
            # The loser's socket was closed (the fd check after the test).
    run(main)


def test_happy_eyeballs_all_fail(run):
    p1, p2 = free_port(), free_port()

    async def main():
        loop = asyncio.get_running_loop()
        fake_resolver(loop, [("127.0.0.1", p1), ("127.0.0.1", p2)])
        with pytest.raises(OSError) as info:
            await loop.create_connection(asyncio.Protocol, "x.invalid", 1, happy_eyeballs_delay=0.05)
        msg = str(info.value)
        if p1 != p2:
            assert msg.startswith("Multiple exceptions: ")
            assert f"('127.0.0.1', {p1})" in msg and f"('127.0.0.1', {p2})" in msg
        if sys.version_info >= (3, 12):
            with pytest.raises(ExceptionGroup) as group:
                await loop.create_connection(asyncio.Protocol, "x.invalid", 1, all_errors=True)
            assert all(isinstance(e, ConnectionRefusedError) for e in group.value.exceptions)
            assert len(group.value.exceptions) == 2
    run(main)


def test_create_connection_interleave_and_local_addr(run):
    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(EchoServer, "127.0.0.1", 0)
        host, port = server.sockets[0].getsockname()
        async with server:
            t, p = await loop.create_connection(
                Recorder, "127.0.0.1", port, local_addr=("127.0.0.1", 0),
                happy_eyeballs_delay=0.25, interleave=1)
            assert t.get_extra_info("sockname")[0] == "127.0.0.1"
            t.close()
            await p.closed
            with pytest.raises(ValueError, match="host/port and sock can not be specified"):
                with socket.socket() as s:
                    await loop.create_connection(Recorder, "127.0.0.1", port, sock=s)
            with pytest.raises(ValueError, match="host and port was not specified"):
                await loop.create_connection(Recorder)
            with pytest.raises(ValueError, match="server_hostname is only meaningful with ssl"):
                await loop.create_connection(Recorder, "127.0.0.1", port, server_hostname="x")
    run(main)


def test_getaddrinfo_and_getnameinfo(run):
    async def main():
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)
        assert infos and all(i[1] == socket.SOCK_STREAM for i in infos)
        assert any(i[4][0] in ("127.0.0.1", "::1") for i in infos)
        assert await loop.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP) == \
            socket.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        assert await loop.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV) == \
            ("127.0.0.1", "80")
        with pytest.raises(socket.gaierror):
            await loop.getaddrinfo("name.invalid", 80, flags=socket.AI_NUMERICHOST)
        # A name that needs the resolver, then a connection to it.
        server = await loop.create_server(EchoServer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            t, p = await loop.create_connection(Recorder, "localhost", port, family=socket.AF_INET)
            assert t.get_extra_info("peername") == ("127.0.0.1", port)
            t.close()
            await p.closed
    run(main)


def test_getaddrinfo_and_open_connection_in_debug_mode(loop_factory):
    # In debug mode asyncio's getaddrinfo() goes through the loop's
    # _getaddrinfo_debug() (timing and logging), which Loop must have:
    # anyio's tests run with debug=True and connect to "localhost".
    async def main():
        loop = asyncio.get_running_loop()
        assert loop.get_debug()
        infos = await loop.getaddrinfo("localhost", 80, family=socket.AF_INET, type=socket.SOCK_STREAM)
        assert infos and all(i[4][0] == "127.0.0.1" for i in infos)
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection("localhost", port, family=socket.AF_INET)
            assert await reader.read() == b""
            writer.close()
            await writer.wait_closed()
        return True

    with asyncio.Runner(loop_factory=loop_factory, debug=True) as runner:
        assert runner.run(main())
