"""connect_read_pipe / connect_write_pipe over pipes, FIFOs, ptys and sockets,
on both loops."""

import asyncio
import errno
import os
import socket
import threading
import tty

import pytest

from unix_helpers import run


class RecordingProtocol(asyncio.Protocol):
    """Records the callbacks it gets, in order; `done` resolves at connection_lost."""

    def __init__(self, loop):
        self.events = []
        self.data = bytearray()
        self.transport = None
        self.done = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("connection_made")

    def data_received(self, data):
        self.data += data
        if not self.events or self.events[-1] != "data_received":
            self.events.append("data_received")

    def eof_received(self):
        self.events.append("eof_received")

    def pause_writing(self):
        self.events.append("pause_writing")

    def resume_writing(self):
        self.events.append("resume_writing")

    def connection_lost(self, exc):
        self.events.append("connection_lost")
        self.exc = exc
        if not self.done.done():
            self.done.set_result(exc)


def _drain_fd(fd, chunks, limit=None):
    """Blocking reader thread body: read fd to EOF into chunks."""
    total = 0
    while True:
        try:
            b = os.read(fd, 65536)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
        total += len(b)
        if limit is not None and total >= limit:
            break


# --- read pipes ---------------------------------------------------------------


def test_read_pipe_data_eof_then_connection_lost(loop):
    rfd, wfd = os.pipe()
    pipe = open(rfd, "rb", buffering=0)

    async def main():
        tr, proto = await loop.connect_read_pipe(lambda: RecordingProtocol(loop), pipe)
        assert isinstance(tr, asyncio.ReadTransport)
        assert tr.get_extra_info("pipe") is pipe
        assert tr.is_reading()
        os.write(wfd, b"hello ")
        os.write(wfd, b"world")
        await asyncio.sleep(0.05)
        os.close(wfd)
        exc = await proto.done
        return tr, proto, exc

    tr, proto, exc = run(loop, main())
    assert exc is None
    assert bytes(proto.data) == b"hello world"
    assert proto.events == ["connection_made", "data_received", "eof_received", "connection_lost"]
    assert tr.is_closing()
    assert pipe.closed


def test_read_pipe_pause_and_resume_reading(loop):
    rfd, wfd = os.pipe()
    pipe = open(rfd, "rb", buffering=0)

    async def main():
        tr, proto = await loop.connect_read_pipe(lambda: RecordingProtocol(loop), pipe)
        tr.pause_reading()
        assert not tr.is_reading()
        tr.pause_reading()                  # idempotent
        os.write(wfd, b"x" * 100)
        await asyncio.sleep(0.05)
        assert proto.data == b""            # nothing read while paused
        tr.resume_reading()
        assert tr.is_reading()
        await asyncio.sleep(0.05)
        assert proto.data == b"x" * 100
        tr.close()
        await proto.done
        return tr, proto

    tr, proto = run(loop, main())
    os.close(wfd)
    assert proto.events == ["connection_made", "data_received", "connection_lost"]
    assert not tr.is_reading()


def test_read_pipe_close_is_idempotent_and_stops_reading(loop):
    rfd, wfd = os.pipe()
    pipe = open(rfd, "rb", buffering=0)

    async def main():
        tr, proto = await loop.connect_read_pipe(lambda: RecordingProtocol(loop), pipe)
        tr.close()
        tr.close()
        os.write(wfd, b"late")
        await proto.done
        await asyncio.sleep(0.01)
        return proto

    proto = run(loop, main())
    os.close(wfd)
    assert proto.events == ["connection_made", "connection_lost"]
    assert proto.exc is None
    assert pipe.closed


def test_read_pipe_rejects_regular_file(loop, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"data")
    with open(path, "rb") as f:
        with pytest.raises(ValueError, match="Pipe transport is for pipes/sockets only"):
            run(loop, loop.connect_read_pipe(asyncio.Protocol, f))
        assert not f.closed


def test_write_pipe_rejects_regular_file(loop, tmp_path):
    with open(tmp_path / "f", "wb") as f:
        with pytest.raises(ValueError, match="only for pipes, sockets and character devices"):
            run(loop, loop.connect_write_pipe(asyncio.Protocol, f))


def test_read_pipe_large_transfer(loop):
    rfd, wfd = os.pipe()
    pipe = open(rfd, "rb", buffering=0)
    payload = os.urandom(3 * 1024 * 1024)

    def writer():
        with open(wfd, "wb", buffering=0) as w:
            w.write(payload)

    async def main():
        tr, proto = await loop.connect_read_pipe(lambda: RecordingProtocol(loop), pipe)
        t = threading.Thread(target=writer)
        t.start()
        await proto.done
        t.join()
        return proto

    proto = run(loop, main())
    assert bytes(proto.data) == payload


# --- write pipes --------------------------------------------------------------


def test_write_pipe_write_eof_gives_reader_eof(loop):
    rfd, wfd = os.pipe()
    pipe = open(wfd, "wb", buffering=0)

    async def main():
        tr, proto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), pipe)
        assert isinstance(tr, asyncio.WriteTransport)
        assert tr.get_extra_info("pipe") is pipe
        assert tr.can_write_eof()
        tr.write(b"abc")
        tr.write(bytearray(b"def"))
        tr.write(memoryview(b"ghi"))
        tr.writelines([b"j", bytearray(b"k"), memoryview(b"l")])
        tr.write(b"")
        tr.write_eof()
        assert tr.is_closing()
        tr.write(b"dropped")            # after write_eof: dropped, as asyncio
        exc = await proto.done
        return exc, proto

    exc, proto = run(loop, main())
    assert exc is None
    with open(rfd, "rb") as r:
        assert r.read() == b"abcdefghijkl"
    assert proto.events == ["connection_made", "connection_lost"]
    assert pipe.closed


def test_write_pipe_flow_control_pauses_and_resumes(loop):
    rfd, wfd = os.pipe()
    pipe = open(wfd, "wb", buffering=0)
    payload = os.urandom(2 * 1024 * 1024)

    async def main():
        tr, proto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), pipe)
        assert tr.get_write_buffer_limits() == (16 * 1024, 64 * 1024)
        with pytest.raises(ValueError):
            tr.set_write_buffer_limits(high=1, low=2)
        tr.set_write_buffer_limits(high=128 * 1024)
        assert tr.get_write_buffer_limits() == (32 * 1024, 128 * 1024)
        tr.write(payload)           # the pipe takes 64 KiB: the rest is queued
        assert tr.get_write_buffer_size() > 128 * 1024
        assert proto.events == ["connection_made", "pause_writing"]
        chunks = []
        t = threading.Thread(target=_drain_fd, args=(rfd, chunks))
        t.start()
        while tr.get_write_buffer_size():
            await asyncio.sleep(0.005)
        assert proto.events == ["connection_made", "pause_writing", "resume_writing"]
        tr.close()
        await proto.done
        await loop.run_in_executor(None, t.join)
        return chunks

    chunks = run(loop, main())
    os.close(rfd)
    assert b"".join(chunks) == payload


def test_write_pipe_detects_reader_close_without_writing(loop):
    rfd, wfd = os.pipe()
    pipe = open(wfd, "wb", buffering=0)

    async def main():
        tr, proto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), pipe)
        await asyncio.sleep(0.01)
        os.close(rfd)                   # the reader goes away
        exc = await proto.done          # noticed without a write
        return tr, exc

    tr, exc = run(loop, main())
    assert exc is None
    assert tr.is_closing()
    assert pipe.closed


def test_write_pipe_reader_close_with_queued_data_is_broken_pipe(loop):
    rfd, wfd = os.pipe()
    pipe = open(wfd, "wb", buffering=0)

    async def main():
        tr, proto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), pipe)
        tr.write(b"x" * (1024 * 1024))
        assert tr.get_write_buffer_size() > 0
        os.close(rfd)
        exc = await proto.done
        return tr, exc

    tr, exc = run(loop, main())
    assert isinstance(exc, BrokenPipeError)
    assert tr.get_write_buffer_size() == 0


def test_write_pipe_failing_write_is_a_fatal_error(loop):
    """A write() the kernel fails (EPIPE: the reader closed, not yet noticed)
    closes the transport with that error, as a socket transport's does: an
    OSError reaches connection_lost(), not the exception handler, and later
    writes are dropped."""
    rfd, wfd = os.pipe()
    pipe = open(wfd, "wb", buffering=0)
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))

    async def main():
        tr, proto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), pipe)
        os.close(rfd)
        tr.write(b"to nobody")          # before the loop sees the reader go
        assert tr.is_closing()
        tr.write(b"dropped")
        return await proto.done, proto

    exc, proto = run(loop, main())
    assert isinstance(exc, BrokenPipeError)
    assert proto.events == ["connection_made", "connection_lost"]
    assert errors == []
    assert pipe.closed


def test_write_pipe_failing_flush_is_a_fatal_error(loop):
    """The same when writing out the queue fails: a pty slave whose master
    closed fails with EIO (a character device has no reader-close watch)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    spipe = open(slave, "wb", buffering=0)
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))

    async def main():
        tr, proto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), spipe)
        tr.write(b"x" * (1024 * 1024))  # more than the pty takes
        assert tr.get_write_buffer_size() > 0
        await asyncio.sleep(0.01)
        os.close(master)
        exc = await proto.done
        assert tr.get_write_buffer_size() == 0
        return exc, proto

    exc, proto = run(loop, main())
    assert isinstance(exc, OSError) and exc.errno == errno.EIO
    assert proto.events == ["connection_made", "pause_writing", "connection_lost"]
    assert errors == []


def test_write_pipe_abort_drops_queue(loop):
    rfd, wfd = os.pipe()
    pipe = open(wfd, "wb", buffering=0)

    async def main():
        tr, proto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), pipe)
        tr.write(b"y" * (1024 * 1024))
        tr.abort()
        assert tr.get_write_buffer_size() == 0
        return await proto.done

    assert run(loop, main()) is None
    with open(rfd, "rb") as r:
        assert len(r.read()) < 1024 * 1024


def test_write_pipe_close_waits_for_queue(loop):
    rfd, wfd = os.pipe()
    pipe = open(wfd, "wb", buffering=0)
    payload = os.urandom(512 * 1024)

    async def main():
        tr, proto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), pipe)
        tr.write(payload)
        tr.close()                      # flushes first
        chunks = []
        t = threading.Thread(target=_drain_fd, args=(rfd, chunks))
        t.start()
        exc = await proto.done
        await loop.run_in_executor(None, t.join)
        return exc, chunks

    exc, chunks = run(loop, main())
    os.close(rfd)
    assert exc is None
    assert b"".join(chunks) == payload


def test_write_pipe_rejects_non_bytes(loop, loop_name):
    rfd, wfd = os.pipe()
    pipe = open(wfd, "wb", buffering=0)

    async def main():
        tr, proto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), pipe)
        # asyncio asserts (AssertionError); aioloop raises TypeError, as a
        # bad argument should (DESIGN.md: errors).
        with pytest.raises(TypeError if loop_name == "aioloop" else AssertionError):
            tr.write("text")
        tr.close()
        await proto.done

    run(loop, main())
    os.close(rfd)


def test_write_pipe_gapped_memoryview_is_a_fatal_write_error(loop):
    """os.write() refuses a memoryview with gaps (view[::2]) with BufferError:
    a fatal write error, as any other failure of the write."""
    rfd, wfd = os.pipe()
    pipe = open(wfd, "wb", buffering=0)
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))

    async def main():
        tr, proto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), pipe)
        assert tr.write(memoryview(b"abcdef")[::2]) is None
        assert tr.is_closing()
        return await proto.done

    exc = run(loop, main())
    assert isinstance(exc, BufferError)
    assert [(e["message"], e["exception"]) for e in errors] == [
        ("Fatal write error on pipe transport", exc)]
    with open(rfd, "rb") as r:
        assert r.read() == b""


def test_write_pipe_gapped_memoryview_behind_queued_data_raises(loop):
    """Behind queued data asyncio appends to its bytearray buffer, which
    refuses a memoryview with gaps: TypeError, and the transport goes on."""
    rfd, wfd = os.pipe()
    pipe = open(wfd, "wb", buffering=0)
    payload = os.urandom(512 * 1024)

    async def main():
        tr, proto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), pipe)
        tr.write(payload)
        assert tr.get_write_buffer_size() > 0
        with pytest.raises(TypeError, match="can't concat memoryview to bytearray"):
            tr.write(memoryview(b"abcdef")[::2])
        tr.write(memoryview(b"abcdef")[::1])
        tr.close()
        chunks = []
        t = threading.Thread(target=_drain_fd, args=(rfd, chunks))
        t.start()
        exc = await proto.done
        await loop.run_in_executor(None, t.join)
        return exc, chunks

    exc, chunks = run(loop, main())
    os.close(rfd)
    assert exc is None
    assert b"".join(chunks) == payload + b"abcdef"


# --- FIFOs, ptys, sockets -----------------------------------------------------


def test_fifo_both_directions(loop, tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    # Opening the read end non-blocking first lets the write end open at once.
    rpipe = open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb", buffering=0)
    wpipe = open(os.open(path, os.O_WRONLY), "wb", buffering=0)
    payload = os.urandom(300 * 1024)

    async def main():
        rtr, rproto = await loop.connect_read_pipe(lambda: RecordingProtocol(loop), rpipe)
        wtr, wproto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), wpipe)
        wtr.write(payload)
        wtr.write_eof()
        assert await wproto.done is None
        assert await rproto.done is None
        return rproto

    rproto = run(loop, main())
    assert bytes(rproto.data) == payload
    assert rproto.events[-2:] == ["eof_received", "connection_lost"]
    assert rpipe.closed and wpipe.closed


def test_fifo_reader_close_seen_by_write_transport(loop, tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    wpipe = open(os.open(path, os.O_WRONLY), "wb", buffering=0)

    async def main():
        tr, proto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), wpipe)
        await asyncio.sleep(0.01)
        os.close(rfd)
        return await proto.done

    assert run(loop, main()) is None


def test_pty_both_directions_and_eio_at_close(loop):
    master, slave = os.openpty()
    tty.setraw(slave)           # no echo, no newline translation
    mpipe = open(master, "r+b", buffering=0)
    spipe_w = open(os.dup(slave), "wb", buffering=0)
    os.close(slave)

    async def main():
        rtr, rproto = await loop.connect_read_pipe(lambda: RecordingProtocol(loop), mpipe)
        wtr, wproto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), spipe_w)
        wtr.write(b"to the master\n")
        while len(rproto.data) < 14:
            await asyncio.sleep(0.005)
        wtr.close()                     # the last slave fd: the master reads EIO
        await wproto.done
        return await rproto.done, rproto

    exc, rproto = run(loop, main())
    assert bytes(rproto.data) == b"to the master\n"
    # A pty master whose slave is gone: read() fails with EIO, which ends the
    # transport quietly with that error (asyncio: _fatal_error, debug log).
    assert isinstance(exc, OSError) and exc.errno == errno.EIO
    assert rproto.events == ["connection_made", "data_received", "connection_lost"]


def test_pty_write_transport_is_character_device(loop):
    master, slave = os.openpty()
    tty.setraw(slave)
    spipe = open(slave, "wb", buffering=0)

    async def main():
        tr, proto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), spipe)
        tr.write(b"tty data")
        await asyncio.sleep(0.01)
        data = os.read(master, 100)
        tr.close()
        await proto.done
        return data

    assert run(loop, main()) == b"tty data"
    os.close(master)


def test_socket_as_pipe_both_directions(loop):
    a, b = socket.socketpair()
    payload = os.urandom(200 * 1024)

    async def main():
        rtr, rproto = await loop.connect_read_pipe(lambda: RecordingProtocol(loop), a)
        wtr, wproto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), b)
        wtr.write(payload)
        while len(rproto.data) < len(payload):
            await asyncio.sleep(0.005)
        wtr.close()
        await wproto.done
        return await rproto.done, rproto

    exc, rproto = run(loop, main())
    assert exc is None
    assert bytes(rproto.data) == payload
    assert a.fileno() == -1 and b.fileno() == -1


def test_dev_null_write_pipe_never_blocks(loop):
    null = open(os.devnull, "wb", buffering=0)

    async def main():
        tr, proto = await loop.connect_write_pipe(lambda: RecordingProtocol(loop), null)
        for _ in range(100):
            tr.write(b"z" * 65536)
        assert tr.get_write_buffer_size() == 0
        tr.close()
        return await proto.done

    assert run(loop, main()) is None


# --- loop state -----------------------------------------------------------------


def test_connect_pipe_on_closed_loop_raises(loop):
    rfd, wfd = os.pipe()
    loop.close()
    with open(rfd, "rb", buffering=0) as r, open(wfd, "wb", buffering=0) as w:
        for coro in (loop.connect_read_pipe(asyncio.Protocol, r),
                     loop.connect_write_pipe(asyncio.Protocol, w)):
            with pytest.raises(RuntimeError, match="closed"):
                loop.run_until_complete(coro)
            coro.close()


def test_connect_pipe_of_closed_loop_from_another_loop_raises(loop, loop_factory, loop_name):
    # The coroutine of a closed loop, driven by another loop: the closed
    # loop refuses before it touches the pipe.
    if loop_name == "asyncio":
        pytest.skip("asyncio builds the transport, then fails in call_soon() "
                    "and leaves it unclosed")
    rfd, wfd = os.pipe()
    loop.close()
    other = loop_factory()
    try:
        with open(rfd, "rb", buffering=0) as r:
            with pytest.raises(RuntimeError, match="closed"):
                other.run_until_complete(loop.connect_read_pipe(asyncio.Protocol, r))
    finally:
        other.close()
        os.close(wfd)


def test_pipe_transport_closed_after_loop_close_releases_fd(loop, loop_name):
    if loop_name == "asyncio":
        pytest.skip("asyncio fails in call_soon() here (CPython gh-114177)")
    rfd, wfd = os.pipe()
    rpipe = open(rfd, "rb", buffering=0)
    wpipe = open(wfd, "wb", buffering=0)

    async def main():
        rtr, _ = await loop.connect_read_pipe(asyncio.Protocol, rpipe)
        wtr, _ = await loop.connect_write_pipe(asyncio.Protocol, wpipe)
        return rtr, wtr

    rtr, wtr = run(loop, main())
    loop.close()
    rtr.close()
    wtr.close()
    assert rpipe.closed and wpipe.closed


def test_asyncio_streams_over_pipes(loop):
    # StreamReader/StreamWriter over pipe transports, as programs that talk
    # to their parent through stdin/stdout pipes use them.
    rfd, wfd = os.pipe()
    rpipe = open(rfd, "rb", buffering=0)
    wpipe = open(wfd, "wb", buffering=0)
    payload = os.urandom(1024 * 1024)

    async def main():
        reader = asyncio.StreamReader(limit=1 << 16)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), rpipe)
        wtr, wproto = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, wpipe)
        writer = asyncio.StreamWriter(wtr, wproto, None, loop)

        async def write_all():
            writer.writelines([b"header\n", payload[:1000]])
            for i in range(1000, len(payload), 100_000):
                writer.write(payload[i:i + 100_000])
                await writer.drain()
            writer.close()      # the reader's EOF proves the end closed

        task = asyncio.ensure_future(write_all())
        header = await reader.readline()
        body = await reader.readexactly(len(payload))
        at_eof = await reader.read()
        await task
        return header, body, at_eof

    header, body, at_eof = run(loop, main())
    assert header == b"header\n"
    assert body == payload
    assert at_eof == b""
