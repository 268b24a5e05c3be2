"""Echo over TCP and Unix stream sockets: Protocol, BufferedProtocol and the
streams API, with half-close at the end of every conversation."""

import asyncio
import socket

import pytest

from .netutil import (BufferedEchoServer, BufferedRecorder, EchoServer,
                     Recorder, pattern)

MESSAGES = [b"x", b"hello world", pattern(100_000, 1), b"\0" * 3, pattern(70_000, 2)]


async def start_echo(kind, factory, unix_path):
    loop = asyncio.get_running_loop()
    if kind == "tcp":
        server = await loop.create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]

        async def connect(proto_factory):
            return await loop.create_connection(proto_factory, "127.0.0.1", port)
    else:
        server = await loop.create_unix_server(factory, unix_path)

        async def connect(proto_factory):
            return await loop.create_unix_connection(proto_factory, unix_path)
    return server, connect


@pytest.mark.parametrize("kind", ["tcp", "unix"])
@pytest.mark.parametrize("client_cls", [Recorder, BufferedRecorder], ids=["Protocol", "BufferedProtocol"])
@pytest.mark.parametrize("server_cls", [EchoServer, BufferedEchoServer], ids=["srvProtocol", "srvBuffered"])
def test_echo_protocol_round_trips_then_half_close(run, kind, client_cls, server_cls, unix_path):
    async def main():
        server, connect = await start_echo(kind, server_cls, unix_path)
        async with server:
            transport, client = await connect(lambda: client_cls(keep_open=True))
            assert isinstance(transport, asyncio.Transport)
            expected = 0
            for msg in MESSAGES:
                transport.write(msg)
                expected += len(msg)
                await client.wait_bytes(expected)
            assert bytes(client.data) == b"".join(MESSAGES)
            assert transport.can_write_eof()
            transport.write_eof()
            with pytest.raises(RuntimeError):
                transport.write(b"after eof")
            await client.eof
            assert not transport.is_closing()
            transport.close()
            assert await client.closed is None
            assert client.events == ["connection_made", "data_received",
                                     "eof_received", "connection_lost"]
    run(main)


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_echo_streams_api(run, kind, unix_path):
    async def handle(reader, writer):
        while line := await reader.readline():
            writer.write(line.upper())
            await writer.drain()
        writer.write(b"bye\n")
        writer.close()
        await writer.wait_closed()

    async def main():
        if kind == "tcp":
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        else:
            server = await asyncio.start_unix_server(handle, unix_path)
            reader, writer = await asyncio.open_unix_connection(unix_path)
        async with server:
            lines = [b"first\n", b"second line\n", b"x" * 50_000 + b"\n"]
            for line in lines:
                writer.write(line)
                await writer.drain()
                assert await reader.readline() == line.upper()
            writer.write_eof()
            assert await reader.read() == b"bye\n"
            assert reader.at_eof()
            writer.close()
            await writer.wait_closed()
    run(main)


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_writelines_sends_every_buffer_in_order(run, kind, unix_path):
    async def main():
        server, connect = await start_echo(kind, EchoServer, unix_path)
        async with server:
            transport, client = await connect(lambda: Recorder(keep_open=True))
            parts = [b"abc", bytearray(b"defg"), memoryview(b"--hij--")[2:5], b"",
                     pattern(300_000, 3), bytearray(pattern(200_000, 4))]
            expected = b"".join(bytes(p) for p in parts)
            transport.writelines(parts)
            transport.writelines(iter([b"tail", memoryview(bytearray(b"end"))]))
            expected += b"tailend"
            transport.write_eof()
            await client.eof
            assert bytes(client.data) == expected
            with pytest.raises(RuntimeError):
                transport.writelines([b"after eof"])
            transport.close()
            assert await client.closed is None
    run(main)


def test_write_rejects_non_bytes(run):
    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(EchoServer, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            transport, client = await loop.create_connection(Recorder, "127.0.0.1", port)
            for bad in ("text", 123, None, [b"x"]):
                # Later 3.13 patch releases of asyncio name the types.
                with pytest.raises(TypeError, match="data argument must be a bytes(-like|, bytearray, or memoryview) object"):
                    transport.write(bad)
            with pytest.raises(TypeError):
                transport.writelines(["text"])
            transport.write(b"")     # no-op
            assert transport.get_write_buffer_size() == 0
            transport.close()
            assert await client.closed is None
    run(main)


def test_connection_lost_once_after_close_with_pending_writes(run):
    """close() with data queued: everything is delivered, then
    connection_lost(None) once; is_closing() is True at once."""
    async def main():
        loop = asyncio.get_running_loop()
        received = bytearray()
        done = loop.create_future()

        class Sink(asyncio.Protocol):
            def connection_made(self, t):
                self.t = t
                t.pause_reading()
                loop.call_later(0.2, t.resume_reading)

            def data_received(self, data):
                received.extend(data)

            def eof_received(self):
                done.set_result(None)

        server = await loop.create_server(Sink, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            transport, client = await loop.create_connection(Recorder, "127.0.0.1", port)
            blob = pattern(8 * 1024 * 1024, 5)
            transport.write(blob)
            assert transport.get_write_buffer_size() > 0
            transport.close()
            assert transport.is_closing()
            transport.close()   # idempotent
            assert await client.closed is None
            await done
            assert bytes(received) == blob
            assert client.events == ["connection_made", "connection_lost"]
    run(main)


def test_tcp_nodelay_on_connections(run, loop_name):
    async def main():
        loop = asyncio.get_running_loop()
        servers = []

        class P(EchoServer):
            def connection_made(self, t):
                super().connection_made(t)
                servers.append(t)

        # A listener made the portable way (proto IPPROTO_TCP): both loops
        # set TCP_NODELAY on both ends.
        server = await loop.create_server(P, "127.0.0.1", 0)
        # A plain socket.socket() listener (proto 0): only aioloop does
        # (DESIGN.md: TCP_NODELAY on every TCP connection).
        plain = socket.socket()
        plain.bind(("127.0.0.1", 0))
        server2 = await loop.create_server(P, sock=plain)
        async with server, server2:
            for srv in (server, server2):
                port = srv.sockets[0].getsockname()[1]
                transport, client = await loop.create_connection(Recorder, "127.0.0.1", port)
                await asyncio.sleep(0.01)
                while len(servers) < 1:
                    await asyncio.sleep(0.01)
                st = servers.pop()
                cs = transport.get_extra_info("socket")
                ss = st.get_extra_info("socket")
                assert cs.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                nodelay = ss.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                if srv is server or loop_name == "aioloop":
                    assert nodelay
                else:
                    assert not nodelay
                transport.close()
                await client.closed
    run(main)


def test_writelines_with_a_bad_item_sends_nothing_and_does_not_stall(run):
    """writelines() that raises TypeError for a bad item sends none of the
    items (asyncio checks them all first), and the transport keeps working."""
    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(EchoServer, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            transport, client = await loop.create_connection(lambda: Recorder(keep_open=True), "127.0.0.1", port)
            with pytest.raises(TypeError):
                transport.writelines([b"first", "not bytes", b"third"])
            assert transport.get_write_buffer_size() == 0
            transport.write(b"after")
            transport.write_eof()
            await client.eof
            assert bytes(client.data) == b"after"
            transport.close()
            await client.closed
    run(main)
