"""anyio's asyncio backend on aioloop, through its loop_factory backend option."""

import asyncio
import hashlib
import os
import signal
import sys
import threading

import anyio
import anyio.abc
import anyio.from_thread
import anyio.to_thread
import pytest

import aioloop
from integration_support import LOOPS, check_loop


def anyio_run(loop_name, fn, *args):
    return anyio.run(fn, *args, backend="asyncio", backend_options={"loop_factory": LOOPS[loop_name]})


def test_task_group_stream_and_threads(loop_name):
    """A task group of producers feeding a memory object stream, a consumer,
    and work sent to worker threads that calls back into the loop."""
    N_PRODUCERS, PER_PRODUCER = 8, 500
    main_thread = threading.get_ident()

    def blocking_digest(data):
        assert threading.get_ident() != main_thread  # really on a worker thread
        # ... which can call back into the event loop
        loop_kind = anyio.from_thread.run_sync(lambda: type(asyncio.get_running_loop()).__name__)
        return hashlib.sha256(data).hexdigest(), loop_kind

    async def main():
        check_loop(loop_name)
        send, receive = anyio.create_memory_object_stream[tuple](max_buffer_size=16)
        received = []
        digests = {}

        async def producer(k, send):
            async with send:
                for i in range(PER_PRODUCER):
                    await send.send((k, i))
                    if i % 100 == 0:
                        await anyio.sleep(0)

        async def consumer(receive):
            async with receive:
                async for item in receive:
                    received.append(item)

        async def hasher(k):
            data = f"producer {k}".encode() * 1000
            digests[k] = await anyio.to_thread.run_sync(blocking_digest, data)

        async with anyio.create_task_group() as tg:
            tg.start_soon(consumer, receive)
            async with send:
                for k in range(N_PRODUCERS):
                    tg.start_soon(producer, k, send.clone())
                    tg.start_soon(hasher, k)

        assert sorted(received) == [(k, i) for k in range(N_PRODUCERS) for i in range(PER_PRODUCER)]
        for k in range(N_PRODUCERS):  # each producer's items arrived in order
            assert [i for kk, i in received if kk == k] == list(range(PER_PRODUCER))
        expected_kind = "Loop" if loop_name == "aioloop" else "_UnixSelectorEventLoop"
        assert digests == {
            k: (hashlib.sha256(f"producer {k}".encode() * 1000).hexdigest(), expected_kind)
            for k in range(N_PRODUCERS)
        }
        return len(received)

    assert anyio_run(loop_name, main) == N_PRODUCERS * PER_PRODUCER


def test_cancellation_and_timeouts(loop_name):
    async def main():
        check_loop(loop_name)
        cancelled = []

        async def sleeper(i):
            try:
                await anyio.sleep(10)
            except anyio.get_cancelled_exc_class():
                cancelled.append(i)
                raise

        start = anyio.current_time()
        with anyio.move_on_after(0.1) as scope:
            async with anyio.create_task_group() as tg:
                for i in range(50):
                    tg.start_soon(sleeper, i)
        assert scope.cancelled_caught
        assert sorted(cancelled) == list(range(50))
        assert 0.09 <= anyio.current_time() - start < 5

        with pytest.raises(TimeoutError):
            with anyio.fail_after(0.05):
                await anyio.sleep(10)

        # An error in one task cancels its siblings and surfaces as an ExceptionGroup.
        async def boom():
            await anyio.sleep(0.01)
            raise ValueError("boom")

        with pytest.raises(ExceptionGroup) as info:
            async with anyio.create_task_group() as tg:
                tg.start_soon(sleeper, 100)
                tg.start_soon(boom)
        assert [type(e) for e in info.value.exceptions] == [ValueError]
        assert 100 in cancelled

    anyio_run(loop_name, main)


def test_tcp_streams(loop_name):
    """anyio's own TCP listener and client streams, 200 round trips each way."""
    async def main():
        check_loop(loop_name)

        async def handle(stream):
            async with stream:
                async for chunk in stream:
                    await stream.send(chunk.upper())

        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, handle)
            async with await anyio.connect_tcp("127.0.0.1", port) as client:
                for i in range(200):
                    msg = f"message {i} ".encode() * (1 + i % 50)
                    await client.send(msg)
                    got = b""
                    while len(got) < len(msg):
                        got += await client.receive()
                    assert got == msg.upper()
            tg.cancel_scope.cancel()
        await listener.aclose()

    anyio_run(loop_name, main)


def test_aioloop_loop_is_used():
    """The backend option really reaches the loop: anyio runs on aioloop.Loop."""
    async def main():
        return asyncio.get_running_loop()

    loop = anyio.run(main, backend="asyncio", backend_options={"loop_factory": aioloop.new_event_loop})
    assert isinstance(loop, aioloop.Loop) and loop.is_closed()


def test_signal_receiver(loop_name):
    """anyio.open_signal_receiver() is built on loop.add_signal_handler()."""

    async def main():
        check_loop(loop_name)
        got = []
        with anyio.open_signal_receiver(signal.SIGUSR1, signal.SIGUSR2) as signals:
            os.kill(os.getpid(), signal.SIGUSR1)
            with anyio.fail_after(5):
                async for signum in signals:
                    got.append(signum)
                    if len(got) == 1:
                        os.kill(os.getpid(), signal.SIGUSR2)
                    else:
                        break
        assert got == [signal.SIGUSR1, signal.SIGUSR2]

    anyio_run(loop_name, main)


def test_run_process(loop_name):
    """anyio.run_process() and open_process() are built on loop.subprocess_exec()."""

    async def main():
        check_loop(loop_name)
        result = await anyio.run_process([sys.executable, "-c", "import sys; print(sys.stdin.read()[::-1])"],
                                         input=b"hello aioloop")
        assert result.returncode == 0 and result.stdout == b"pooloia olleh\n"
        async with await anyio.open_process([sys.executable, "-c", "import sys; sys.exit(3)"]) as proc:
            assert await proc.wait() == 3

    anyio_run(loop_name, main)
