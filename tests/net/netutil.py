"""Protocols and helpers shared by the network tests (imported as `netutil`)."""

import asyncio
import hashlib
import os
import socket


def has_ipv6():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_port(family=socket.AF_INET, type=socket.SOCK_STREAM):
    """A local port that was free a moment ago (nothing listens on it)."""
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    with socket.socket(family, type) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Recorder(asyncio.Protocol):
    """Records every protocol call in `events` (data coalesced into `data`);
    `closed` resolves with connection_lost's argument. eof_received returns
    `keep_open`."""

    def __init__(self, keep_open=False):
        loop = asyncio.get_running_loop()
        self.events = []
        self.data = bytearray()
        self.transport = None
        self.made = loop.create_future()
        self.eof = loop.create_future()
        self.closed = loop.create_future()
        self.keep_open = keep_open
        self.waiters = []

    def _log(self, what):
        if not self.events or self.events[-1] != what:
            self.events.append(what)

    def connection_made(self, transport):
        self._log("connection_made")
        self.transport = transport
        self.made.set_result(transport)

    def data_received(self, data):
        assert isinstance(data, bytes)
        self._log("data_received")
        self.data += data
        self._wake()

    def eof_received(self):
        self._log("eof_received")
        self.eof.set_result(True)
        return self.keep_open

    def connection_lost(self, exc):
        self._log("connection_lost")
        assert not self.closed.done(), "connection_lost called twice"
        self.closed.set_result(exc)
        self._wake()

    def _wake(self):
        for n, fut in list(self.waiters):
            if (len(self.data) >= n or self.closed.done()) and not fut.done():
                fut.set_result(None)
                self.waiters.remove((n, fut))

    async def wait_bytes(self, n):
        """Wait until at least n bytes arrived in total."""
        if len(self.data) >= n:
            return
        fut = asyncio.get_running_loop().create_future()
        self.waiters.append((n, fut))
        self._wake()
        await fut
        assert len(self.data) >= n, (len(self.data), n, self.events)


class BufferedRecorder(Recorder, asyncio.BufferedProtocol):
    """Recorder as a BufferedProtocol, with a small buffer (many reads)."""

    def __init__(self, keep_open=False, bufsize=1000):
        Recorder.__init__(self, keep_open)
        self.buf = bytearray(bufsize)
        self.sizehints = set()

    def get_buffer(self, sizehint):
        self.sizehints.add(sizehint)
        return memoryview(self.buf)

    def buffer_updated(self, nbytes):
        assert 0 < nbytes <= len(self.buf)
        self._log("data_received")
        self.data += self.buf[:nbytes]
        self._wake()


class EchoServer(asyncio.Protocol):
    """Echoes; on EOF closes once the echo is sent (the peer sees EOF)."""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def eof_received(self):
        return False


class BufferedEchoServer(asyncio.BufferedProtocol):
    def __init__(self):
        self.buf = bytearray(777)

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        return self.buf

    def buffer_updated(self, nbytes):
        self.transport.write(bytes(self.buf[:nbytes]))

    def eof_received(self):
        return False


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def pattern(n, seed=0):
    """n deterministic bytes that are not periodic at small offsets."""
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 32
    return bytes(out[:n])


def unique_abstract_name():
    return "\0aioloop-test-%d-%s" % (os.getpid(), os.urandom(4).hex())
