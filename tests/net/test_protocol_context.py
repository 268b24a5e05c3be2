"""Protocol callbacks run in the contextvars context asyncio runs them in.

asyncio runs a transport's readiness callbacks (data_received,
eof_received, datagram_received, and whatever they call) in the context
captured when the transport was made: for a server's connections, the
context current when create_server()/create_unix_server() was called (its
accept reader captured it), for create_connection() & co. that of the call.
connection_made() runs in a copy of the same context, and connection_lost()
in the context of whoever closed the transport (here: the transport itself,
on EOF).

Each test sets a ContextVar to "inner" before making the server or the
transport, to "outer" right after, and records the value each protocol
method sees; both loops must say "inner" everywhere.
"""

import asyncio
import contextvars
import os
import socket
import ssl
import tempfile

import pytest

from helpers import tls_ca

var = contextvars.ContextVar("var", default="unset")

STREAM_METHODS = ["connection_made", "data_received", "eof_received", "connection_lost"]


class ContextRecorder(asyncio.Protocol):
    """Records (method, var.get()) for each call; `lost` resolves at connection_lost."""

    def __init__(self):
        self.seen = {}
        self.transport = None
        self.lost = asyncio.get_running_loop().create_future()

    def _note(self, name):
        self.seen.setdefault(name, var.get())

    def connection_made(self, transport):
        self.transport = transport
        self._note("connection_made")

    def data_received(self, data):
        self._note("data_received")

    def eof_received(self):
        self._note("eof_received")   # returns None: the transport closes itself

    def connection_lost(self, exc):
        self._note("connection_lost")
        if not self.lost.done():
            self.lost.set_result(exc)


def all_inner(methods):
    return {name: "inner" for name in methods}


async def send_and_close(reader, writer):
    writer.write(b"ping")
    await writer.drain()
    writer.write_eof()
    await reader.read()
    writer.close()
    await writer.wait_closed()


def test_tcp_server_connection_callbacks_run_in_create_server_context(run):
    async def main():
        protocols = []

        def factory():
            protocols.append(ContextRecorder())
            return protocols[-1]

        var.set("inner")
        server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
        var.set("outer")
        async with server:
            port = server.sockets[0].getsockname()[1]
            await send_and_close(*await asyncio.open_connection("127.0.0.1", port))
            await protocols[0].lost
        assert protocols[0].seen == all_inner(STREAM_METHODS)
    run(main)


def test_unix_server_connection_callbacks_run_in_create_unix_server_context(run):
    async def main():
        protocols = []

        def factory():
            protocols.append(ContextRecorder())
            return protocols[-1]

        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s")
            var.set("inner")
            server = await asyncio.get_running_loop().create_unix_server(factory, path)
            var.set("outer")
            async with server:
                await send_and_close(*await asyncio.open_unix_connection(path))
                await protocols[0].lost
        assert protocols[0].seen == all_inner(STREAM_METHODS)
    run(main)


def test_tls_server_connection_callbacks_run_in_create_server_context(run):
    ca = tls_ca()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client_ctx)

    async def main():
        protocols = []

        def factory():
            protocols.append(ContextRecorder())
            return protocols[-1]

        var.set("inner")
        server = await asyncio.get_running_loop().create_server(
            factory, "127.0.0.1", 0, ssl=server_ctx)
        var.set("outer")
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client_ctx, server_hostname="localhost")
            writer.write(b"ping")
            await writer.drain()
            # TLS cannot half-close: closing sends close_notify, which the
            # server side's SSLProtocol turns into eof_received().
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError):
                pass
            await protocols[0].lost
        assert protocols[0].seen == all_inner(STREAM_METHODS)
    run(main)


def test_connect_accepted_socket_callbacks_run_in_the_calls_context(run):
    async def main():
        loop = asyncio.get_running_loop()
        ours, peer = socket.socketpair()
        with peer:
            var.set("inner")
            _, protocol = await loop.connect_accepted_socket(ContextRecorder, ours)
            var.set("outer")
            peer.setblocking(False)
            await loop.sock_sendall(peer, b"ping")
            peer.shutdown(socket.SHUT_WR)
            await protocol.lost
        assert protocol.seen == all_inner(STREAM_METHODS)
    run(main)


def test_create_connection_callbacks_run_in_the_calls_context(run):
    async def main():
        loop = asyncio.get_running_loop()

        async def serve(reader, writer):
            writer.write(b"hello")
            writer.write_eof()
            await reader.read()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            var.set("inner")
            _, protocol = await loop.create_connection(ContextRecorder, "127.0.0.1", port)
            var.set("outer")
            await protocol.lost
        assert protocol.seen == all_inner(STREAM_METHODS)
    run(main)


def test_create_unix_connection_callbacks_run_in_the_calls_context(run):
    async def main():
        loop = asyncio.get_running_loop()

        async def serve(reader, writer):
            writer.write(b"hello")
            writer.write_eof()
            await reader.read()
            writer.close()

        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s")
            server = await asyncio.start_unix_server(serve, path)
            async with server:
                var.set("inner")
                _, protocol = await loop.create_unix_connection(ContextRecorder, path)
                var.set("outer")
                await protocol.lost
        assert protocol.seen == all_inner(STREAM_METHODS)
    run(main)


class DatagramContextRecorder(asyncio.DatagramProtocol):
    def __init__(self):
        self.seen = {}
        self.got = asyncio.get_running_loop().create_future()
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.seen.setdefault("connection_made", var.get())

    def datagram_received(self, data, addr):
        self.seen.setdefault("datagram_received", var.get())
        # Closed from inside the callback: connection_lost() then runs in
        # a copy of this callback's context, on both loops.
        self.transport.close()

    def error_received(self, exc):
        self.seen.setdefault("error_received", var.get())

    def connection_lost(self, exc):
        self.seen.setdefault("connection_lost", var.get())
        self.lost.set_result(exc)


def test_datagram_endpoint_callbacks_run_in_the_calls_context(run):
    async def main():
        loop = asyncio.get_running_loop()
        var.set("inner")
        transport, protocol = await loop.create_datagram_endpoint(
            DatagramContextRecorder, local_addr=("127.0.0.1", 0))
        var.set("outer")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"ping", transport.get_extra_info("sockname"))
            await protocol.lost
        assert protocol.seen == all_inner(["connection_made", "datagram_received", "connection_lost"])
    run(main)


def test_datagram_error_received_runs_in_the_calls_context(run):
    async def main():
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed_port:
            closed_port.bind(("127.0.0.1", 0))
            addr = closed_port.getsockname()
        # Connected to a port nobody listens on: the ICMP port-unreachable
        # comes back as ECONNREFUSED on the next receive.
        var.set("inner")
        transport, protocol = await loop.create_datagram_endpoint(
            DatagramContextRecorder, remote_addr=addr)
        var.set("outer")
        transport.sendto(b"ping")
        for _ in range(200):
            if "error_received" in protocol.seen:
                break
            await asyncio.sleep(0.005)
        transport.close()
        await protocol.lost
        assert protocol.seen["error_received"] == "inner"
    run(main)


def test_flow_control_callbacks_run_in_the_transports_context(run):
    # pause_writing() runs inline in write(), called here from inside
    # data_received() (in the transport's context, already entered);
    # resume_writing() runs when the kernel takes the queue, from the loop.
    async def main():
        loop = asyncio.get_running_loop()

        class Flooder(ContextRecorder):
            def connection_made(self, transport):
                super().connection_made(transport)
                transport.set_write_buffer_limits(high=1024)

            def data_received(self, data):
                super().data_received(data)
                var.set("set by data_received")
                self.transport.write(b"x" * (4 * 1024 * 1024))

            def pause_writing(self):
                self._note("pause_writing")

            def resume_writing(self):
                self._note("resume_writing")
                # Not close() inline: both loops' write path would then
                # report connection_lost twice (asyncio's _write_ready).
                asyncio.get_running_loop().call_soon(self.transport.close)

        ours, peer = socket.socketpair()
        with peer:
            var.set("inner")
            _, protocol = await loop.connect_accepted_socket(Flooder, ours)
            var.set("outer")
            peer.setblocking(False)
            await loop.sock_sendall(peer, b"go")
            while not protocol.lost.done():
                try:
                    await asyncio.wait_for(loop.sock_recv(peer, 1 << 20), 5)
                except asyncio.TimeoutError:
                    break
            await protocol.lost
        assert protocol.seen == {
            "connection_made": "inner",
            "data_received": "inner",
            "pause_writing": "set by data_received",
            "resume_writing": "set by data_received",
            "connection_lost": "set by data_received",
        }
    run(main)
