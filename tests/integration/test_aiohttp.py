"""aiohttp, server and client, on aioloop: in one loop and across processes.

Each scenario is a client-side coroutine that checks what came back. The
in-process tests run server and client in the same loop (aioloop, and stock
asyncio as the oracle); the cross-process tests run the server in a child
process on aioloop (serve_aiohttp.py) and the client here on either loop.
"""

import asyncio
import contextlib
import hashlib
import json
import signal
import time

import aiohttp
import pytest
from aiohttp import web

import integration_apps as apps
from integration_support import Child, make_runner

BIG = 50 * 1024 * 1024  # the streamed body, each way
WS_MESSAGES = 10_000
CONCURRENT = 1000
CONNECTIONS = 100  # the client's connection pool bounds the concurrency


# ---------------------------------------------------------------- scenarios


async def json_roundtrip(session, base, server_loop):
    async with session.get(f"{base}/json", params={"name": "zoë ✓"}) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("application/json")
        body = await r.json()
    assert body["hello"] == "zoë ✓"
    assert body["loop"] == server_loop

    values = list(range(-500, 1500))
    async with session.post(f"{base}/json", json={"values": values, "tag": "abc✓"}) as r:
        assert r.status == 201
        assert await r.json() == {"n": 2000, "sum": sum(values), "tag": "✓cba"}

    async with session.get(f"{base}/nowhere") as r:
        assert r.status == 404
    async with session.post(f"{base}/json", data=b"{not json") as r:
        assert r.status == 500


async def streamed_upload(session, base, size):
    async def body():
        for piece in apps.payload_chunks(size):
            yield piece

    async with session.post(f"{base}/upload", data=body()) as r:
        assert r.status == 200
        result = await r.json()
    assert result == {"size": size, "sha256": apps.payload_sha256(size)}


async def streamed_download(session, base, size, slow=False):
    """slow=True reads in small pieces with a pause after each, so the client
    transport's reading is paused and resumed and the server waits on drain()."""
    h = hashlib.sha256()
    got = 0
    async with session.get(f"{base}/download", params={"size": str(size)}) as r:
        assert r.status == 200
        assert r.content_length == size
        async for piece in r.content.iter_chunked(32 * 1024 if slow else 256 * 1024):
            h.update(piece)
            got += len(piece)
            if slow:
                await asyncio.sleep(0.0005)
    assert got == size
    assert h.hexdigest() == apps.payload_sha256(size)


async def ws_echo(session, base, count):
    sent = hashlib.sha256()
    received = hashlib.sha256()
    async with session.ws_connect(f"{base}/ws", max_msg_size=1 << 20) as ws:

        async def sender():
            for i in range(count):
                msg = apps.ws_message(i)
                apps.digest_update(sent, msg)
                if isinstance(msg, str):
                    await ws.send_str(msg)
                else:
                    await ws.send_bytes(msg)

        async def receiver():
            for i in range(count):
                msg = await ws.receive()
                expected = apps.ws_message(i)
                want = aiohttp.WSMsgType.TEXT if isinstance(expected, str) else aiohttp.WSMsgType.BINARY
                assert msg.type == want, (i, msg)
                assert msg.data == expected, i
                apps.digest_update(received, msg.data)

        await asyncio.gather(sender(), receiver())
        await ws.send_str("__stats__")
        stats = json.loads((await ws.receive()).data)
    assert received.hexdigest() == sent.hexdigest()
    assert stats == {"count": count, "sha256": sent.hexdigest()}


async def concurrent_requests(session, base, count):
    async with session.get(f"{base}/stats") as r:
        before = (await r.json())["requests"]

    async def one(i):
        async with session.get(f"{base}/item/{i}") as r:
            assert r.status == 200
            return await r.json()

    results = await asyncio.gather(*(one(i) for i in range(count)))
    peers = {r.pop("peer") for r in results}
    assert results == [{"i": i, "square": i * i} for i in range(count)]
    # Concurrent for real (more than one connection), and bounded by the pool;
    # connections were reused.
    assert 1 < len(peers) <= CONNECTIONS, len(peers)
    async with session.get(f"{base}/stats") as r:
        assert (await r.json())["requests"] - before == count


def client_session(ssl_ctx=None):
    connector = aiohttp.TCPConnector(limit=CONNECTIONS, ssl=ssl_ctx if ssl_ctx else True)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60))


@contextlib.asynccontextmanager
async def local_server(ssl_ctx=None):
    runner = web.AppRunner(apps.make_aiohttp_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_ctx)
    await site.start()
    host, port = runner.addresses[0][:2]
    assert host == "127.0.0.1" and port != 0
    try:
        yield f"{'https' if ssl_ctx else 'http'}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------- one loop


def test_json(run):
    async def main():
        async with local_server() as base, client_session() as s:
            await json_roundtrip(s, base, apps.loop_name())

    run(main)


def test_streamed_50mb(run):
    async def main():
        async with local_server() as base, client_session() as s:
            await streamed_upload(s, base, BIG)
            await streamed_download(s, base, BIG)
            await streamed_download(s, base, 8 * 1024 * 1024, slow=True)

    run(main)


def test_websocket_echo_10k(run):
    async def main():
        async with local_server() as base, client_session() as s:
            await ws_echo(s, base, WS_MESSAGES)

    run(main)


def test_concurrent_requests(run):
    async def main():
        async with local_server() as base, client_session() as s:
            await concurrent_requests(s, base, CONCURRENT)

    run(main)


def test_tls(run, tls):
    async def main():
        async with local_server(tls.server_context()) as base:
            async with client_session(tls.client_context()) as s:
                await json_roundtrip(s, base, apps.loop_name())
                await streamed_upload(s, base, 5 * 1024 * 1024)
                await streamed_download(s, base, 5 * 1024 * 1024)
                await ws_echo(s, base, 500)
                await concurrent_requests(s, base, 200)
            # The certificate is really checked: without the test CA it is refused.
            async with client_session() as s:
                with pytest.raises(aiohttp.ClientConnectorCertificateError):
                    await s.get(f"{base}/json")

    run(main)


def test_sendfile_unix_socket_and_localhost(run, tmp_path):
    """FileResponse (loop.sendfile), a Range request, a Unix-socket site and a
    client resolving "localhost"."""
    data = b"".join(apps.payload_chunks(20 * 1024 * 1024 + 123))
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    sock_path = str(tmp_path / "server.sock")

    async def main():
        async def file(request):
            return web.FileResponse(path)

        app = apps.make_aiohttp_app()
        app.router.add_get("/file", file)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        await web.UnixSite(runner, sock_path).start()
        port = runner.addresses[0][1]
        try:
            async with client_session() as s:
                async with s.get(f"http://127.0.0.1:{port}/file") as r:
                    assert r.status == 200 and r.content_length == len(data)
                    assert hashlib.sha256(await r.read()).digest() == hashlib.sha256(data).digest()
                async with s.get(f"http://127.0.0.1:{port}/file", headers={"Range": "bytes=1000-1999"}) as r:
                    assert r.status == 206 and await r.read() == data[1000:2000]
                async with s.get(f"http://localhost:{port}/json") as r:
                    assert (await r.json())["loop"] == apps.loop_name()
            unix = aiohttp.UnixConnector(path=sock_path)
            async with aiohttp.ClientSession(connector=unix) as s:
                await json_roundtrip(s, "http://unix", apps.loop_name())
                async with s.get("http://unix/file") as r:
                    assert hashlib.sha256(await r.read()).digest() == hashlib.sha256(data).digest()
        finally:
            await runner.cleanup()

    run(main)


# ---------------------------------------------------------------- two processes


@pytest.fixture(scope="module")
def server_process(tls):
    """An aiohttp server on aioloop in a child process, plain and TLS."""
    child = Child(["serve_aiohttp.py", "--loop", "aioloop", "--tls", tls.cert_pem])
    try:
        ready = json.loads(child.expect(lambda line: line.startswith("{")))
        assert ready["loop"] == "aioloop._core.Loop", ready
        yield ready
        child.proc.stdin.close()  # asks the server to shut down
        assert child.wait() == 0, child.text()
        bye = json.loads(child.output[-1])
        assert bye["bye"] is True, child.text()
    finally:
        child.kill()


def test_process_json(run, server_process):
    async def main():
        async with client_session() as s:
            await json_roundtrip(s, f"http://127.0.0.1:{server_process['port']}", "aioloop._core.Loop")

    run(main)


def test_process_streamed_50mb(run, server_process):
    async def main():
        base = f"http://127.0.0.1:{server_process['port']}"
        async with client_session() as s:
            await streamed_upload(s, base, BIG)
            await streamed_download(s, base, BIG)

    run(main)


def test_process_websocket_echo_10k(run, server_process):
    async def main():
        async with client_session() as s:
            await ws_echo(s, f"http://127.0.0.1:{server_process['port']}", WS_MESSAGES)

    run(main)


def test_process_concurrent_requests(run, server_process):
    async def main():
        async with client_session() as s:
            await concurrent_requests(s, f"http://127.0.0.1:{server_process['port']}", CONCURRENT)

    run(main)


def test_process_tls(run, server_process, tls):
    async def main():
        base = f"https://127.0.0.1:{server_process['tls_port']}"
        async with client_session(tls.client_context()) as s:
            await json_roundtrip(s, base, "aioloop._core.Loop")
            await streamed_upload(s, base, 5 * 1024 * 1024)
            await streamed_download(s, base, 5 * 1024 * 1024)
            await ws_echo(s, base, 1000)
        async with client_session() as s:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await s.get(f"{base}/json")

    run(main)


# ---------------------------------------------------------------- web.run_app


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_run_app_stops_on_signal(loop_name, sig):
    """web.run_app() in a child process stops gracefully on SIGINT and SIGTERM.

    SIGINT works without loop signal handlers (KeyboardInterrupt out of the
    loop, which run_app catches); a graceful SIGTERM needs
    loop.add_signal_handler()."""
    child = Child(["serve_run_app.py", "--loop", loop_name])
    try:
        ready = json.loads(child.expect(lambda line: line.startswith("{")))
        assert (ready["loop"] == "aioloop._core.Loop") == (loop_name == "aioloop"), ready

        async def main():
            async with client_session() as s:
                await json_roundtrip(s, f"http://127.0.0.1:{ready['port']}", ready["loop"])

        make_runner(loop_name)(main)
        time.sleep(0.3)  # let the server's loop go idle in its poller
        child.proc.send_signal(sig)
        status = child.wait()
        out = child.text()
        assert status == 0, out
        assert f"on_shutdown {ready['loop']}" in out and "run_app returned" in out, out
    finally:
        child.kill()
