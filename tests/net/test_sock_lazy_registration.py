"""sock_recv/sock_recv_into/sock_sendall leave their fd in the epoll set
after a wait (net/netloop.pyx, loop/fdtable.pyx `FdTable.remove_callback(lazy=True)`).
These tests pin that the lazy registration never outlives its socket's
meaning: a new socket reusing the fd number still gets its events, and a
socket dropped without close() is still collected. Both loops."""
import asyncio
import gc
import socket
import weakref


def _pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


def test_new_socket_on_a_reused_fd_number_is_watched(loop):
    async def main():
        numbers = set()
        for i in range(5):
            a, b = _pair()
            numbers.add(b.fileno())
            with a, b:
                pending = asyncio.ensure_future(loop.sock_recv(b, 100))
                await asyncio.sleep(0)          # makes it wait on the poller
                a.send(b"msg %d" % i)
                assert await asyncio.wait_for(pending, 5) == b"msg %d" % i
                pending = asyncio.ensure_future(loop.sock_recv_into(b, bytearray(10)))
                await asyncio.sleep(0)
                a.send(b"xy")
                assert await asyncio.wait_for(pending, 5) == 2
        return numbers

    numbers = loop.run_until_complete(main())
    assert len(numbers) == 1        # the kernel did reuse the number


def test_sendall_after_reuse_of_the_fd_number(loop):
    async def main():
        for _ in range(3):
            a, b = _pair()
            with a, b:
                b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
                payload = b"z" * 2_000_000
                send = asyncio.ensure_future(loop.sock_sendall(b, payload))
                got = bytearray()
                while len(got) < len(payload):
                    got += await asyncio.wait_for(loop.sock_recv(a, 65536), 5)
                await asyncio.wait_for(send, 5)
                assert bytes(got) == payload

    loop.run_until_complete(main())


def test_socket_dropped_without_close_is_collected(loop):
    async def main():
        a, b = _pair()
        pending = asyncio.ensure_future(loop.sock_recv(b, 100))
        await asyncio.sleep(0)
        a.send(b"x")
        assert await asyncio.wait_for(pending, 5) == b"x"
        ref = weakref.ref(b)
        fd = b.fileno()
        a.close()
        return ref, fd

    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        ref, fd = loop.run_until_complete(main())
        gc.collect()
    assert ref() is None
