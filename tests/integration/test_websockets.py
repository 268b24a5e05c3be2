"""websockets (the asyncio implementation), server and client, on aioloop."""

import asyncio
import hashlib
import json

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

import integration_apps as apps

MESSAGES = 10_000


async def echo_handler(ws):
    """Echo every message; answer "__stats__" with the count and checksum of
    what was received so far, so the client can check the server's view too."""
    h = hashlib.sha256()
    count = 0
    async for msg in ws:
        if msg == "__stats__":
            await ws.send(json.dumps({"count": count, "sha256": h.hexdigest(), "loop": apps.loop_name()}))
            continue
        apps.digest_update(h, msg)
        count += 1
        await ws.send(msg)


async def echo_client(uri, count, first=0, **kwargs):
    sent = hashlib.sha256()
    received = hashlib.sha256()
    async with connect(uri, max_size=1 << 20, **kwargs) as ws:

        async def sender():
            for i in range(first, first + count):
                msg = apps.ws_message(i)
                apps.digest_update(sent, msg)
                await ws.send(msg)

        async def receiver():
            for i in range(first, first + count):
                msg = await ws.recv()
                assert msg == apps.ws_message(i), i
                apps.digest_update(received, msg)

        await asyncio.gather(sender(), receiver())
        await ws.send("__stats__")
        stats = json.loads(await ws.recv())
        await ws.close()
        assert ws.close_code == 1000
    assert received.hexdigest() == sent.hexdigest()
    assert stats["count"] == count and stats["sha256"] == sent.hexdigest()
    return stats


@pytest.mark.parametrize("compression", ["deflate", None])
def test_echo_10k(run, compression):
    async def main():
        async with serve(echo_handler, "127.0.0.1", 0, max_size=1 << 20, compression=compression) as server:
            port = server.sockets[0].getsockname()[1]
            stats = await echo_client(f"ws://127.0.0.1:{port}", MESSAGES, compression=compression)
            assert stats["loop"] == apps.loop_name()

    run(main)


def test_many_clients(run):
    """20 clients at once, 500 messages each, each its own checksum."""
    async def main():
        async with serve(echo_handler, "127.0.0.1", 0, max_size=1 << 20) as server:
            port = server.sockets[0].getsockname()[1]
            results = await asyncio.gather(*(echo_client(f"ws://127.0.0.1:{port}", 500, first=k * 500)
                                             for k in range(20)))
            assert [r["count"] for r in results] == [500] * 20
            assert len({r["sha256"] for r in results}) == 20  # every client had its own stream

    run(main)


def test_tls(run, tls):
    async def main():
        async with serve(echo_handler, "127.0.0.1", 0, ssl=tls.server_context(), max_size=1 << 20) as server:
            port = server.sockets[0].getsockname()[1]
            await echo_client(f"wss://127.0.0.1:{port}", 2000, ssl=tls.client_context())

    run(main)


def test_server_closes_connection(run):
    """The server ends the conversation with a close code; the client sees it."""
    async def handler(ws):
        assert await ws.recv() == "hello"
        await ws.close(code=4001, reason="bye now")

    async def main():
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}") as ws:
                await ws.send("hello")
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 4001 and ws.close_reason == "bye now"

    run(main)
