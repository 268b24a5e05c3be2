"""Pipe transports run their protocol's callbacks in the contextvars context
of the connect_read_pipe()/connect_write_pipe() call, as asyncio does (its
pipe transports schedule connection_made() and the adding of their reader
with call_soon() from that context)."""

import asyncio
import contextvars
import os

from unix_helpers import run

var = contextvars.ContextVar("var", default="unset")


class ContextRecorder(asyncio.Protocol):
    def __init__(self, loop):
        self.seen = {}
        self.lost = loop.create_future()

    def _note(self, name):
        self.seen.setdefault(name, var.get())

    def connection_made(self, transport):
        self._note("connection_made")

    def data_received(self, data):
        self._note("data_received")

    def eof_received(self):
        self._note("eof_received")

    def connection_lost(self, exc):
        self._note("connection_lost")
        self.lost.set_result(exc)


def test_read_pipe_callbacks_run_in_connect_read_pipe_context(loop):
    rfd, wfd = os.pipe()
    pipe = open(rfd, "rb", buffering=0)

    async def main():
        var.set("inner")
        _, protocol = await loop.connect_read_pipe(lambda: ContextRecorder(loop), pipe)
        var.set("outer")
        os.write(wfd, b"ping")
        await asyncio.sleep(0.02)
        os.close(wfd)
        await protocol.lost
        return protocol

    protocol = run(loop, main())
    assert protocol.seen == {name: "inner" for name in
                             ["connection_made", "data_received", "eof_received", "connection_lost"]}


def test_write_pipe_callbacks_run_in_connect_write_pipe_context(loop):
    rfd, wfd = os.pipe()
    pipe = open(wfd, "wb", buffering=0)

    async def main():
        var.set("inner")
        transport, protocol = await loop.connect_write_pipe(lambda: ContextRecorder(loop), pipe)
        var.set("outer")
        transport.write(b"ping")
        assert os.read(rfd, 4) == b"ping"
        # The reader's close is seen by the transport's watch of the pipe,
        # which then closes itself.
        os.close(rfd)
        await protocol.lost
        return protocol

    protocol = run(loop, main())
    assert protocol.seen == {"connection_made": "inner", "connection_lost": "inner"}
