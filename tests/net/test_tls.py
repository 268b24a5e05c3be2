"""TLS through asyncio's SSLProtocol over the loop's transports: client and
server, verification, extra info, handshake timeout, start_tls upgrades."""

import asyncio
import ssl

import pytest

from helpers import tls_ca

from .netutil import Recorder, pattern


@pytest.fixture(scope="module")
def ca():
    return tls_ca()


@pytest.fixture(scope="module")
def server_ctx(ca):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(ctx)
    return ctx


@pytest.fixture(scope="module")
def client_ctx(ca):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(ctx)
    return ctx


async def tls_echo_handler(reader, writer):
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, ssl.SSLError):
        pass


def test_tls_echo_streams_and_extra_info(run, server_ctx, client_ctx):
    async def main():
        server = await asyncio.start_server(tls_echo_handler, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client_ctx, server_hostname="localhost")
            t = writer.transport
            assert isinstance(t, asyncio.Transport)
            assert t.get_extra_info("sslcontext") is client_ctx
            assert isinstance(t.get_extra_info("ssl_object"), ssl.SSLObject)
            cert = t.get_extra_info("peercert")
            assert ("DNS", "localhost") in cert["subjectAltName"]
            assert t.get_extra_info("cipher")[1].startswith("TLS")
            assert t.get_extra_info("compression") is None
            assert t.get_extra_info("peername") == ("127.0.0.1", port)
            assert t.get_extra_info("socket") is not None
            blob = pattern(3 * 1024 * 1024, 21)
            for msg in [b"hello", blob]:
                writer.write(msg)
                await writer.drain()
                assert await reader.readexactly(len(msg)) == msg
            writer.write_eof() if writer.can_write_eof() else None
            writer.close()
            await writer.wait_closed()
    run(main)


def test_tls_protocol_level_echo_with_half_close_refused(run, server_ctx, client_ctx):
    async def main():
        loop = asyncio.get_running_loop()

        class Echo(asyncio.Protocol):
            def connection_made(self, t):
                self.t = t

            def data_received(self, data):
                self.t.write(data)

        server = await loop.create_server(Echo, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        async with server:
            t, p = await loop.create_connection(Recorder, "127.0.0.1", port,
                                                ssl=client_ctx, server_hostname="localhost")
            assert not t.can_write_eof()
            with pytest.raises(NotImplementedError):
                t.write_eof()
            t.writelines([b"a", bytearray(b"b"), memoryview(b"c")])
            await p.wait_bytes(3)
            assert bytes(p.data) == b"abc"
            t.close()
            assert await p.closed is None
    run(main)


def test_tls_hostname_mismatch_fails(run, server_ctx, client_ctx):
    async def main():
        server = await asyncio.start_server(tls_echo_handler, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        async with server:
            with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch|doesn't match"):
                await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx,
                                              server_hostname="not-the-host.example")
            # Verification is on by default: an untrusted CA fails.
            with pytest.raises(ssl.SSLCertVerificationError):
                await asyncio.open_connection("127.0.0.1", port, ssl=True,
                                              server_hostname="localhost")
            await asyncio.sleep(0.05)
    run(main)
    # The server logs the failed handshakes it saw.
    run.errors.clear()


def test_tls_handshake_timeout(run, client_ctx):
    async def main():
        loop = asyncio.get_running_loop()
        conns = []

        class Silent(asyncio.Protocol):
            def connection_made(self, t):
                conns.append(t)

        server = await loop.create_server(Silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            with pytest.raises(ConnectionAbortedError, match="SSL handshake is taking longer than 0.3 seconds"):
                await loop.create_connection(asyncio.Protocol, "127.0.0.1", port, ssl=client_ctx,
                                             server_hostname="localhost", ssl_handshake_timeout=0.3)
            for t in conns:
                t.close()
            await asyncio.sleep(0)
    run(main)


def test_start_tls_upgrade_keeps_queued_plaintext(run, server_ctx, client_ctx):
    """The server queues a large plaintext reply and upgrades at once: every
    plaintext byte arrives before the TLS handshake, then TLS echo works."""
    plain = pattern(4 * 1024 * 1024, 22)

    async def main():
        loop = asyncio.get_running_loop()
        upgraded = loop.create_future()

        async def handle(reader, writer):
            assert await reader.readline() == b"STARTTLS\n"
            writer.write(plain)            # mostly still queued ...
            await writer.start_tls(server_ctx)   # ... when TLS starts
            upgraded.set_result(writer.transport)
            await tls_echo_handler(reader, writer)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            raw = writer.transport
            writer.write(b"STARTTLS\n")
            assert await reader.readexactly(len(plain)) == plain
            await writer.start_tls(client_ctx, server_hostname="localhost")
            assert writer.transport is not raw
            assert writer.transport.get_extra_info("ssl_object") is not None
            writer.write(b"secret\n")
            assert await reader.readline() == b"secret\n"
            srv_transport = await upgraded
            assert srv_transport.get_extra_info("peercert") is None
            writer.close()
            await writer.wait_closed()
    run(main)


def test_loop_start_tls_protocol_level(run, server_ctx, client_ctx):
    async def main():
        loop = asyncio.get_running_loop()
        server_ready = loop.create_future()

        class Upgrading(asyncio.Protocol):
            def connection_made(self, t):
                self.t = t

            def data_received(self, data):
                assert data == b"UPGRADE"
                self.t.write(b"GO")
                server_ready.set_result(self.t)

        server = await loop.create_server(Upgrading, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            t, p = await loop.create_connection(Recorder, "127.0.0.1", port)
            t.write(b"UPGRADE")
            await p.wait_bytes(2)
            raw_srv = await server_ready
            echo = Recorder()
            srv_proto = Recorder()

            async def server_side():
                tls = await loop.start_tls(raw_srv, srv_proto, server_ctx, server_side=True)
                return tls

            srv_task = asyncio.ensure_future(server_side())
            client_proto = Recorder()
            ct = await loop.start_tls(t, client_proto, client_ctx, server_hostname="localhost")
            st = await srv_task
            assert ct.get_protocol() is client_proto
            ct.write(b"over tls")
            await srv_proto.wait_bytes(8)
            assert bytes(srv_proto.data) == b"over tls"
            st.write(b"and back")
            await client_proto.wait_bytes(8)
            assert bytes(client_proto.data) == b"and back"
            dt, dp = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                         local_addr=("127.0.0.1", 0))
            with pytest.raises(TypeError, match="is not supported by start_tls"):
                await loop.start_tls(dt, echo, client_ctx)
            dt.close()
            ct.close()
            assert await client_proto.closed is None
            await srv_proto.closed
    run(main)


def test_tls_shutdown_timeout_when_peer_never_answers(run, server_ctx, client_ctx):
    """close() on a TLS transport sends close_notify and waits for the
    peer's; a peer that never reads is given up on after
    ssl_shutdown_timeout, and the connection is torn down."""
    async def main():
        loop = asyncio.get_running_loop()
        srv = []

        class Deaf(Recorder):
            def connection_made(self, t):
                super().connection_made(t)
                srv.append(self)

            def data_received(self, data):
                super().data_received(data)
                self.transport.pause_reading()

        server = await loop.create_server(Deaf, "127.0.0.1", 0, ssl=server_ctx)
        async with server:
            port = server.sockets[0].getsockname()[1]
            t, p = await loop.create_connection(
                Recorder, "127.0.0.1", port, ssl=client_ctx, server_hostname="localhost",
                ssl_shutdown_timeout=0.3)
            t.write(b"hello")
            while not srv or not srv[0].data:
                await asyncio.sleep(0.01)
            t0 = loop.time()
            t.close()
            exc = await p.closed
            # asyncio's SSLProtocol aborts the transport below with this.
            assert isinstance(exc, TimeoutError)
            assert str(exc) == "SSL shutdown timed out"
            assert loop.time() - t0 >= 0.25
            # The raw connection under it is gone: the server side sees it
            # once it reads again.
            srv[0].transport.resume_reading()
            await srv[0].closed
    run(main)
