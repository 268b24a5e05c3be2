"""Datagram endpoints: UDP and Unix datagram echo, connected and
unconnected, error_received, close/abort, sendto's argument checks."""

import asyncio
import errno
import os
import socket
import sys

import pytest

from .netutil import free_port, has_ipv6


class DgramRecorder(asyncio.DatagramProtocol):
    def __init__(self):
        loop = asyncio.get_running_loop()
        self.events = []
        self.datagrams = []
        self.errors = []
        self.transport = None
        self.closed = loop.create_future()
        self._cond = asyncio.Condition()
        self._new = asyncio.Event()

    def connection_made(self, transport):
        self.events.append("connection_made")
        self.transport = transport

    def datagram_received(self, data, addr):
        self.events.append("datagram_received")
        self.datagrams.append((data, addr))
        self._new.set()

    def error_received(self, exc):
        self.events.append("error_received")
        self.errors.append(exc)
        self._new.set()

    def connection_lost(self, exc):
        self.events.append("connection_lost")
        self.closed.set_result(exc)

    async def wait_for(self, n_datagrams=0, n_errors=0):
        while len(self.datagrams) < n_datagrams or len(self.errors) < n_errors:
            self._new.clear()
            await self._new.wait()


class DgramEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data.upper(), addr)


MESSAGES = [b"one", b"two" * 100, b"x" * 60000, b"last"]


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
@pytest.mark.parametrize("connected", [True, False], ids=["connected", "unconnected"])
def test_udp_echo(run, loop_name, family, connected):
    if family == "ipv6" and not has_ipv6():
        pytest.skip("no IPv6 loopback")
    host = "127.0.0.1" if family == "ipv4" else "::1"

    async def main():
        loop = asyncio.get_running_loop()
        st, sp = await loop.create_datagram_endpoint(DgramEcho, local_addr=(host, 0))
        addr = st.get_extra_info("sockname")
        # Stock asyncio's datagram transport is an asyncio.Transport on
        # every version (CPython's test_asyncio checks it), and a
        # DatagramTransport only from 3.13 on; aioloop's is both everywhere.
        assert isinstance(st, asyncio.Transport)
        if loop_name == "aioloop" or sys.version_info >= (3, 13):
            assert isinstance(st, asyncio.DatagramTransport)
        if connected:
            ct, cp = await loop.create_datagram_endpoint(DgramRecorder, remote_addr=addr[:2])
            assert ct.get_extra_info("peername")[:2] == addr[:2]
        else:
            ct, cp = await loop.create_datagram_endpoint(DgramRecorder, local_addr=(host, 0))
            assert ct.get_extra_info("peername") is None
        for i, msg in enumerate(MESSAGES, 1):
            if connected:
                ct.sendto(msg)
            else:
                ct.sendto(msg, addr)
            await cp.wait_for(i)
        assert [d for d, a in cp.datagrams] == [m.upper() for m in MESSAGES]
        assert all(a[:2] == addr[:2] for d, a in cp.datagrams)
        assert ct.get_write_buffer_size() == 0
        assert isinstance(ct.get_extra_info("socket"), asyncio.trsock.TransportSocket)
        ct.close()
        assert ct.is_closing()
        st.close()
        assert await cp.closed is None
        assert cp.events == ["connection_made"] + ["datagram_received"] * len(MESSAGES) + ["connection_lost"]
    run(main)


def test_unix_datagram_echo(run, dgram_paths):
    spath, cpath = dgram_paths

    async def main():
        loop = asyncio.get_running_loop()
        st, sp = await loop.create_datagram_endpoint(DgramEcho, local_addr=spath, family=socket.AF_UNIX)
        ct, cp = await loop.create_datagram_endpoint(
            DgramRecorder, local_addr=cpath, remote_addr=spath, family=socket.AF_UNIX)
        for i, msg in enumerate(MESSAGES, 1):
            ct.sendto(msg)
            await cp.wait_for(i)
        assert cp.datagrams == [(m.upper(), spath) for m in MESSAGES]
        with pytest.raises(ValueError, match="Invalid address"):
            ct.sendto(b"x", "/elsewhere")
        ct.close()
        st.close()
        assert await cp.closed is None
    run(main)


def test_connected_udp_to_closed_port_reports_error_received(run):
    async def main():
        loop = asyncio.get_running_loop()
        port = free_port(type=socket.SOCK_DGRAM)
        ct, cp = await loop.create_datagram_endpoint(DgramRecorder, remote_addr=("127.0.0.1", port))
        # ICMP port unreachable comes back as ECONNREFUSED on a later
        # operation: error_received(), and the transport stays open.
        for _ in range(50):
            ct.sendto(b"anyone?")
            await asyncio.sleep(0.01)
            if cp.errors:
                break
        assert cp.errors, "no error_received()"
        assert all(isinstance(e, ConnectionRefusedError) for e in cp.errors)
        assert not ct.is_closing()
        assert cp.datagrams == []
        ct.close()
        assert await cp.closed is None
    run(main)


def test_sendto_checks(run):
    async def main():
        loop = asyncio.get_running_loop()
        st, sp = await loop.create_datagram_endpoint(DgramRecorder, local_addr=("127.0.0.1", 0))
        addr = st.get_extra_info("sockname")
        ct, cp = await loop.create_datagram_endpoint(DgramRecorder, remote_addr=addr)
        with pytest.raises(TypeError, match="data argument must be a bytes-like object"):
            ct.sendto("text")
        with pytest.raises(ValueError, match="Invalid address"):
            ct.sendto(b"x", ("127.0.0.1", addr[1] + 1))
        ct.sendto(b"to peer", addr)     # the peer's own address is allowed
        ct.sendto(bytearray(b"ba"))
        ct.sendto(memoryview(b"mv"))
        await sp.wait_for(3)
        assert [d for d, a in sp.datagrams] == [b"to peer", b"ba", b"mv"]
        ct.abort()
        assert await cp.closed is None
        st.close()
        await sp.closed
    run(main)


def test_datagram_endpoint_with_sock_and_reuse_port(run):
    async def main():
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        st, sp = await loop.create_datagram_endpoint(DgramEcho, sock=sock)
        addr = sock.getsockname()
        ct, cp = await loop.create_datagram_endpoint(DgramRecorder, remote_addr=addr)
        ct.sendto(b"via sock=")
        await cp.wait_for(1)
        assert cp.datagrams[0][0] == b"VIA SOCK="
        ct.close()
        st.close()
        await cp.closed
        # reuse_port: two endpoints on one port.
        t1, p1 = await loop.create_datagram_endpoint(DgramRecorder, local_addr=("127.0.0.1", 0), reuse_port=True)
        port = t1.get_extra_info("sockname")[1]
        t2, p2 = await loop.create_datagram_endpoint(DgramRecorder, local_addr=("127.0.0.1", port), reuse_port=True)
        assert t2.get_extra_info("sockname")[1] == port
        t1.close()
        t2.close()
        await p1.closed
        await p2.closed
        # allow_broadcast sets SO_BROADCAST.
        t3, p3 = await loop.create_datagram_endpoint(DgramRecorder, local_addr=("127.0.0.1", 0), allow_broadcast=True)
        assert t3.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST)
        t3.close()
        await p3.closed
    run(main)


@pytest.fixture
def dgram_paths():
    import tempfile
    d = tempfile.mkdtemp(prefix="aioloop-")
    paths = (os.path.join(d, "s"), os.path.join(d, "c"))
    yield paths
    for p in paths:
        if os.path.exists(p):
            os.unlink(p)
    os.rmdir(d)


class FlowDgram(DgramRecorder):
    def pause_writing(self):
        self.events.append("pause_writing")

    def resume_writing(self):
        self.events.append("resume_writing")


def test_datagram_queue_flow_control_and_drain(run, dgram_paths):
    """A Unix datagram receiver that does not read makes the sender's
    socket refuse datagrams (EAGAIN): they wait in the transport, counted
    by get_write_buffer_size() as asyncio counts them, pause_writing() at
    the high-water mark, and all are delivered in order once the receiver
    reads."""
    spath, cpath = dgram_paths
    size = 1000
    header = 8 if sys.version_info >= (3, 13) else 0

    async def main(loop_name=run.name):
        loop = asyncio.get_running_loop()
        st, sp = await loop.create_datagram_endpoint(DgramRecorder, local_addr=spath, family=socket.AF_UNIX)
        ct, cp = await loop.create_datagram_endpoint(
            FlowDgram, local_addr=cpath, remote_addr=spath, family=socket.AF_UNIX)
        st.pause_reading()
        await asyncio.sleep(0)
        queued = 0
        n = 0
        while queued < 200:
            ct.sendto(b"%06d" % n + b"." * (size - 6))
            n += 1
            if ct.get_write_buffer_size():
                queued += 1
                assert ct.get_write_buffer_size() == queued * (size + header)
            assert n < 100_000, "the receiver's queue never filled"
        assert "pause_writing" in cp.events
        st.resume_reading()
        await sp.wait_for(n)
        assert [int(d[:6]) for d, a in sp.datagrams] == list(range(n))
        assert all(a == cpath for d, a in sp.datagrams)
        assert cp.events.count("pause_writing") == cp.events.count("resume_writing") == 1
        if loop_name == "aioloop" or sys.version_info < (3, 13):
            # (Stock asyncio 3.13.0 adds the 8-byte header when queueing but
            # not when sending, so its count never returns to 0.)
            assert ct.get_write_buffer_size() == 0
        ct.close()
        st.close()
        await cp.closed
        await sp.closed
    run(main)


def test_empty_datagram(run, dgram_paths):
    """3.13 sends empty datagrams; 3.11 and 3.12 drop them silently."""
    spath, cpath = dgram_paths

    async def main():
        loop = asyncio.get_running_loop()
        st, sp = await loop.create_datagram_endpoint(DgramRecorder, local_addr=spath, family=socket.AF_UNIX)
        ct, cp = await loop.create_datagram_endpoint(
            DgramRecorder, local_addr=cpath, remote_addr=spath, family=socket.AF_UNIX)
        ct.sendto(b"")
        ct.sendto(bytearray())
        ct.sendto(b"x")
        await sp.wait_for(1)
        await asyncio.sleep(0.05)
        if sys.version_info >= (3, 13):
            assert [d for d, a in sp.datagrams] == [b"", b"", b"x"]
        else:
            assert [d for d, a in sp.datagrams] == [b"x"]
        ct.close()
        st.close()
        await cp.closed
    run(main)


@pytest.mark.parametrize("how", ["close", "abort"])
def test_datagram_close_flushes_queue_abort_drops_it(run, dgram_paths, how):
    spath, cpath = dgram_paths

    async def main():
        loop = asyncio.get_running_loop()
        st, sp = await loop.create_datagram_endpoint(DgramRecorder, local_addr=spath, family=socket.AF_UNIX)
        ct, cp = await loop.create_datagram_endpoint(
            DgramRecorder, local_addr=cpath, remote_addr=spath, family=socket.AF_UNIX)
        st.pause_reading()
        await asyncio.sleep(0)
        n = 0
        while not ct.get_write_buffer_size():
            ct.sendto(b"%06d" % n)
            n += 1
            assert n < 100_000
        for _ in range(10):
            ct.sendto(b"%06d" % n)
            n += 1
        sent_before = n - 11          # the kernel took these at once
        getattr(ct, how)()
        assert ct.is_closing()
        st.resume_reading()
        if how == "close":
            await sp.wait_for(n)
            assert await cp.closed is None
            assert [int(d) for d, a in sp.datagrams] == list(range(n))
        else:
            assert await cp.closed is None
            await asyncio.sleep(0.05)
            assert [int(d) for d, a in sp.datagrams] == list(range(sent_before))
        if run.name == "aioloop" or (how == "close" and sys.version_info < (3, 13)):
            # (Stock asyncio's abort() drops the queued datagrams but not
            # their count, and 3.13.0 never subtracts the 8-byte header it
            # adds per queued datagram: its get_write_buffer_size() stays
            # stale.)
            assert ct.get_write_buffer_size() == 0
        st.close()
        await sp.closed
    run(main)


@pytest.mark.parametrize("loop_name", ["aioloop"])
def test_sendto_without_address_on_a_connected_sock_goes_to_the_peer(run):
    # aioloop only, on purpose (README): asyncio calls sendto(data, None) on
    # a socket whose peer has no name (an unnamed socketpair's peername is
    # '') and fails the transport with TypeError; uvloop sends to the peer.
    async def main():
        loop = asyncio.get_running_loop()
        mine, peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        peer.setblocking(False)
        with peer:
            t, p = await loop.create_datagram_endpoint(DgramRecorder, sock=mine)
            assert t.get_extra_info("peername") == ""
            t.sendto(b"one")
            t.sendto(bytearray(b"two"), None)
            assert [peer.recv(16), peer.recv(16)] == [b"one", b"two"]
            assert not p.errors and not t.is_closing()
            peer.send(b"back")
            await p.wait_for(1)
            assert p.datagrams[0][0] == b"back"
            t.close()
            assert await p.closed is None
    run(main)


@pytest.mark.parametrize("loop_name", ["aioloop"])
def test_sendto_without_address_on_an_unconnected_sock_is_error_received(run):
    # With no peer the kernel refuses (EDESTADDRREQ): an error for the
    # protocol, the transport stays open (asyncio: TypeError, transport lost).
    async def main():
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        t, p = await loop.create_datagram_endpoint(DgramRecorder, sock=sock)
        t.sendto(b"nowhere")
        await p.wait_for(0, 1)
        assert p.errors[0].errno == errno.EDESTADDRREQ
        assert not t.is_closing()
        t.close()
        await p.closed
    run(main)


def test_paused_reflects_pause_reading(run):
    # asyncio's socket transports keep pause_reading() in `_paused`, which
    # tests and libraries read.
    async def main():
        loop = asyncio.get_running_loop()
        t, p = await loop.create_datagram_endpoint(DgramRecorder, local_addr=("127.0.0.1", 0))
        assert t._paused is False
        t.pause_reading()
        assert t._paused is True and not t.is_reading()
        t.resume_reading()
        assert t._paused is False and t.is_reading()
        t.close()
        await p.closed
    run(main)
