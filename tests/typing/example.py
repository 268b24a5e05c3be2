"""Every documented entry point of aioloop, used as README.md shows it.

Not run: tests/typing/check.sh type-checks it with mypy --strict and pyright
(basedpyright), and any error fails. A call the README documents that a
checker refuses is a bug of aioloop/__init__.pyi or aioloop/_core.pyi.
The reveal-free assignments with annotations pin the types the stubs give."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import os
import pathlib
import socket
import ssl
import sys

import aioloop
from aioloop import aio


async def crunch(x: int) -> int:
    return sum(i * i for i in range(x))


async def main() -> int:
    return 1


class EchoProtocol(asyncio.Protocol):
    def data_received(self, data: bytes) -> None:
        pass


def quick_start() -> None:
    result: int = aioloop.run(main())
    if sys.version_info >= (3, 12):
        asyncio.run(main(), loop_factory=aioloop.new_event_loop)
    with asyncio.Runner(loop_factory=aioloop.new_event_loop) as runner:
        result = runner.run(main())
    aioloop.install()
    asyncio.set_event_loop_policy(aioloop.EventLoopPolicy())
    policy: asyncio.AbstractEventLoopPolicy = aioloop.EventLoopPolicy(threads=4)
    asyncio.set_event_loop_policy(policy)
    asyncio.set_event_loop_policy(None)
    result = aioloop.run(main(), debug=True, loop_factory=aioloop.new_event_loop)
    version: str = aioloop.__version__
    print(result, version)


def pytest_asyncio_loop_factories() -> dict[str, object]:
    return {"aioloop": aioloop.new_event_loop, "asyncio": asyncio.new_event_loop}


def the_loop() -> None:
    loop: aioloop.Loop = aioloop.new_event_loop()
    base: asyncio.AbstractEventLoop = loop
    direct = aioloop.Loop()                      # a concrete class, not abstract
    direct.close()
    handle: asyncio.Handle = loop.call_soon(print, "soon")
    handle.cancel()
    timer: asyncio.TimerHandle = loop.call_later(0.1, print, "later")
    when: float = timer.when()
    loop.call_at(loop.time() + 1, print, "at", context=contextvars.copy_context())
    loop.call_soon_threadsafe(print, "from a thread")
    fut: asyncio.Future[int] = loop.run_in_executor(None, sum, [1, 2, 3])
    task: asyncio.Task[int] = loop.create_task(crunch(10), name="crunch")
    loop.run_until_complete(task)
    loop.run_until_complete(fut)
    stats: dict[str, int] = loop.stats()
    loop.slow_callback_duration = 0.5
    pool = aioloop.DaemonPool(4, thread_name_prefix="io", initializer=print, initargs=("start",))
    loop.set_default_executor(pool)
    cf: concurrent.futures.Future[int] = pool.submit(sum, [1, 2])
    loop.run_until_complete(loop.shutdown_default_executor())
    pool.shutdown(wait=True)
    loop.close()
    print(base, when, stats, cf)


async def network(loop: aioloop.Loop) -> None:
    server: asyncio.Server = await loop.create_server(EchoProtocol, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    transport, proto = await loop.create_connection(EchoProtocol, "127.0.0.1", port)
    echo: EchoProtocol = proto
    transport.write(b"x")
    transport.close()
    server.close()
    await server.wait_closed()
    a, b = socket.socketpair()
    a.setblocking(False)
    await loop.sock_sendall(a, b"ping")
    data: bytes = await loop.sock_recv(a, 10)
    infos = await loop.getaddrinfo("localhost", 80)
    proc = await asyncio.create_subprocess_exec("true")
    await proc.wait()
    a.close()
    b.close()
    print(echo, data, infos)


async def using_every_core() -> tuple[int, int]:
    parts: list[aioloop.Spawned[int]] = [aioloop.spawn(crunch(100_000)) for _ in range(64)]
    total = sum([await p for p in parts])
    pinned: int = await aioloop.spawn(crunch(10), hint=1)
    aioloop.sched(print, "a plain callback on thread", 2, hint=2)
    sp = aioloop.spawn(crunch(5), name="five", context=contextvars.copy_context())
    sp.add_done_callback(lambda s: print(s.done(), s.cancelled(), s.thread))
    await asyncio.wait_for(asyncio.shield(sp), 10)
    sp.cancel("no longer needed")
    s: aioloop.Scheduler | None = aioloop.current_scheduler()
    i: int | None = aioloop.thread_index()
    if s is not None:
        s.sched(print, "hinted", hint=0).cancel()
        other: aioloop.Spawned[int] = s.spawn(crunch(3), hint=1)
        await other
        loops: tuple[aioloop.Loop, ...] = s.loops
        n: int = s.threads
        print(s.stats()["total"], loops, n)
        s.set_exception_handler(lambda loop, ctx: print(ctx["message"]))
        server = await s.create_server(EchoProtocol, "127.0.0.1", 0, reuse_port=True)
        async with server:
            print(server.sockets, server.is_serving())
            server.close()
            await server.wait_closed()

        async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        streams = await s.start_server(client, "127.0.0.1", 0)
        streams.close()
        await streams.wait_closed()
    print(i)
    return total, pinned


def scheduler_entry_points() -> None:
    aioloop.run(using_every_core(), threads=4)
    with aioloop.Scheduler(threads=4, daemons=8) as s:
        s.run(using_every_core())
    bounded = aioloop.Scheduler(2, max_pending=1000)
    sp = bounded.spawn(crunch(1))
    bounded.close()
    value: int = sp.result(timeout=1)
    err: BaseException | None = sp.exception(timeout=1)
    if sys.version_info >= (3, 12):
        asyncio.run(using_every_core(),
                    loop_factory=functools.partial(aioloop.new_event_loop, threads=4))
    asyncio.set_event_loop_policy(aioloop.EventLoopPolicy(threads=4))
    asyncio.run(using_every_core())
    asyncio.set_event_loop_policy(None)
    try:
        aioloop.run(main(), threads=2, daemons=2)
    except aioloop.DispatchThreadError as e:
        cause: BaseException | None = e.__cause__
        print(cause)
    print(value, err)


def sharing_across_threads() -> None:
    barrier = aioloop.TaskBarrier(3, lambda: print("tripped"))
    barrier.signal()
    threshold = aioloop.TaskBarrier(2, print, total=aioloop.TaskBarrier.INFTY, hint=1)
    threshold.admit()
    bounded = aioloop.TaskBarrier(2, print, total=5)
    bounded.admit_bounded()
    print(barrier.count, barrier.trips, barrier.spent, barrier.mode)

    lock = aioloop.TaskLock()

    def critical(name: str) -> None:
        print(name)
        lock.unlock()

    lock.lock(critical, "first")
    lock.lock(critical, "pinned", hint=0)
    got: bool = lock.canlock() or lock.canlock(critical, "now")
    print(got, lock.locked())

    q: aioloop.Queue[int] = aioloop.Queue(maxsize=10)
    q.put_nowait(1)
    item: int = q.get_nowait()
    q.task_done()
    print(item, q.qsize(), q.empty(), q.full(), q.maxsize)

    event = aioloop.Event()
    event.set()
    event.clear()
    print(event.is_set())


async def sharing_asyncio_style(q: aioloop.Queue[str], event: aioloop.Event) -> None:
    barrier = aioloop.TaskBarrier(2)
    trip: int = await barrier.arrive()
    trip = await barrier.wait()
    lock = aioloop.TaskLock(hint=0)
    async with lock:
        pass
    await lock.acquire()
    lock.release()
    await q.put("x")
    item: str = await q.get()
    q.task_done()
    await q.join()
    set_: bool = await event.wait()
    print(trip, item, set_)


async def dialing(ctx: ssl.SSLContext) -> None:
    sock: socket.socket = await aioloop.adial("tcp!example.com!https", timeout=5)
    sock.close()
    reader, writer = await aioloop.open_dial("tcp!localhost!8080")
    line: bytes = await reader.readline()
    writer.close()
    transport, proto = await aioloop.dial_connection(EchoProtocol, "tcp!host!443", ssl=ctx)
    mine: EchoProtocol = proto
    transport.close()
    async with await aioloop.announce("tcp!*!8080") as ann:
        call = await ann.listen()
        print(call.remote, call.local, ann.addr)
        accepted: socket.socket = call.accept()
        accepted.close()
        other = await ann.listen()
        t, p = await other.accept_connection(EchoProtocol)
        t.close()
        (await ann.listen()).reject()
    addr: str = aioloop.netmkaddr("example.com", defnet="tcp", defsvc="http")
    resolver = aioloop.Resolver(["127.0.0.1"], port=5353, timeout=2.0, cache_size=100, hosts=False)
    addrs: list[str] = await resolver.resolve("example.com")
    sock = await aioloop.adial("tcp!localhost!80", local=("127.0.0.1", 0), resolver=resolver)
    sock.close()
    print(line, mine, p, addr, addrs, resolver.stats(), resolver.nameservers)


async def daemon_calls(path: str) -> None:
    fd: int = await aioloop.daemon.open(path, os.O_RDONLY)
    st: os.stat_result = await aioloop.daemon.fstat(fd)
    data: bytes = await aioloop.daemon.pread(fd, 10, 0)
    written: int = await aioloop.daemon.pwrite(fd, bytearray(b"x"), 0)
    sent: int = await aioloop.daemon.sendfile(1, fd, None, 100)
    await aioloop.daemon.fsync(fd)
    await aioloop.daemon.access(path, os.R_OK)
    st = await aioloop.daemon.stat(pathlib.Path(path))
    await aioloop.daemon.close(fd)
    print(st, data, written, sent)


def daemon_callbacks(path: str) -> None:
    def errh(err: int) -> None:
        print(err)

    aio.ainit(2, 2)
    aio.open(errh, lambda fd: aio.close(errh, fd), path, os.O_RDONLY, 0o644)
    aio.stat(errh, lambda st: print(st.st_size), path)
    aio.fstat(errh, print, 0)
    aio.fsync(errh, 0)
    aio.access(errh, path, os.W_OK)
    aio.sendfile(errh, 1, 0, 0, 10, senth=print)
    aio.pread(errh, lambda data: print(data.hex()), 0, 10, 0)
    aio.pwrite(errh, 1, memoryview(b"x"), 0)
    aio.aexit(0)
    status: object = aio.amain()
    print(status)


async def retrying(sock: socket.socket, answer: asyncio.Future[bytes]) -> bytes:
    retry = aioloop.Retry(0.5, factor=2.0, max_interval=8.0, jitter=0.1, limit=5)
    retry.limit = None
    key = retry.start(sock.send, b"query", on_expire=lambda q: print("no answer to", q))
    retry.retry(key)
    stopped: bool = retry.timeout(key)
    reply: bytes = await retry.run(sock.send, b"query", until=answer)
    print(stopped, retry.interval, retry.max_interval)
    return reply


def callback_style() -> None:
    from aioloop import aio

    aio.ainit(4, naiod=2)

    def on_read(fd: int) -> None:
        aio.read(on_read, fd)

    def tick() -> None:
        stamp: float = aio.now()
        print(stamp, aio.stats()["ncheckio"])

    previous = aio.read(on_read, 0)
    if previous is not None:
        previous(0)
    aio.write(lambda fd: None, 1, hint=1)
    removed = aio.remove_read(0)
    aio.remove_write(1)
    aio.mk_async(0)
    aio.close_on_exec(0, on=False)
    handle = aio.sched(print, "hello", 1, hint=2)
    handle.cancel()
    io = aio.sched_io(on_read, 0, aio.READ)
    cancelled: bool = io.cancelled()
    aio.add_oneshot(tick, aio.get_time_of_day() + 1.0)
    aio.add_interval(tick, 0.5, hint=0)
    aio.adial(lambda sock: sock.close(), "tcp!localhost!80", errh=print, timeout=5.0, hint=1)
    n: int = aio.remove_timer(tick) + aio.remove_timer(1234.5)
    aio.aexit(n)
    status = aio.amain()
    print(removed, cancelled, status)


def aio_signals_and_processes() -> None:
    import os
    import signal

    from aioloop import aio

    def on_signal(signum: int) -> None:
        aio.aexit(signum)

    def on_child(msg: aio.Waitmsg) -> None:
        code: int | None = msg.status if msg.signal is None else None
        print(code, msg.pid, msg.rusage)

    aio.ainit(4, 2)
    previous = aio.sig_install(on_signal, signal.SIGTERM)
    aio.sig_install(previous, signal.SIGTERM)
    aio.sig_install(None, signal.SIGTERM)
    pid: int = aio.aspawn("/bin/true", ["true"], env={"LANG": "C"}, fn=lambda: os.setpgid(0, 0))
    aio.add_child_handler(on_child, pid)
    removed = aio.remove_child_handler(pid)
    if removed is not None:
        removed(aio.Waitmsg(pid, 0, None, None))
    if aio.afork() == 0:
        os._exit(0)
    status: object = aio.amain()
    print(status)
