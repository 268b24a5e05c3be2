"""uvicorn serving a small ASGI app (integration_apps.ASGIApp) on aioloop.

Three ways in, from most to least embedded:
- uvicorn.Server.serve() under our runner, in the test's loop, driven by an
  httpx.AsyncClient (httpx runs on anyio, so anyio's asyncio backend runs on
  aioloop here too) and a websockets client;
- uvicorn.Server.run() with ``loop="aioloop:new_event_loop"`` (uvicorn >= 0.36
  takes a "module:function" loop factory), in a thread, driven from outside;
- the ``uvicorn --loop aioloop:new_event_loop`` command line in a child
  process, stopped with SIGTERM and SIGINT.

uvicorn installs its signal handlers with signal.signal(), not
loop.add_signal_handler(), so none of this needs aioloop's signal support: the
loop has to run Python signal handlers when epoll_wait() is interrupted, which
the command-line test checks.
"""

import asyncio
import hashlib
import re
import signal
import threading
import time

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect

import integration_apps as apps
from integration_support import Child

REQUESTS = 500
CONNECTIONS = 20


def body_for(i):
    """A request body of 0 to ~1 MiB, different for each i."""
    return b"".join(apps.payload_chunks((i * 7919) % (1 << 20)))[i % 13:]


async def drive_http(base, count, server_loop, uds=None):
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    transport = httpx.AsyncHTTPTransport(uds=uds, limits=limits) if uds else None
    async with httpx.AsyncClient(base_url=base, limits=limits, transport=transport, timeout=30) as client:
        r = await client.get("/loop")
        assert r.status_code == 200 and r.json()["loop"] == server_loop

        async def one(i):
            if i % 10 == 0:
                body = body_for(i)
                r = await client.post("/echo", content=body)
                assert r.status_code == 200
                assert r.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
            else:
                r = await client.get(f"/item/{i}")
                assert r.status_code == 200
                assert r.json() == {"i": i, "square": i * i}
            return i

        assert await asyncio.gather(*(one(i) for i in range(count))) == list(range(count))
        r = await client.get("/nowhere")
        assert r.status_code == 404 and r.content == b"not found"


async def drive_websocket(uri, count):
    async with connect(uri, max_size=1 << 20) as ws:
        for i in range(count):
            msg = apps.ws_message(i)
            await ws.send(msg)
            assert await ws.recv() == msg


def sync_requests(base, count, server_loop):
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/loop").json()["loop"] == server_loop
        for i in range(count):
            r = client.get(f"/item/{i}")
            assert r.status_code == 200 and r.json() == {"i": i, "square": i * i}


# uvicorn's legacy "websockets" implementation is deprecated but still what
# --ws auto picks today; keep testing it, quietly.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The `websockets` implementation is deprecated")
@pytest.mark.parametrize("http,ws", [("h11", "websockets-sansio"), ("httptools", "websockets")])
def test_server_serve(run, http, ws):
    app = apps.ASGIApp()

    async def main():
        config = uvicorn.Config(app, host="127.0.0.1", port=0, http=http, ws=ws,
                                lifespan="on", log_level="warning")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            assert not task.done(), task
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        assert port != 0
        try:
            await drive_http(f"http://127.0.0.1:{port}", REQUESTS, apps.loop_name())
            await drive_websocket(f"ws://127.0.0.1:{port}/ws", 1000)
        finally:
            server.should_exit = True
            await task
        assert app.events == [f"startup:{apps.loop_name()}", f"shutdown:{apps.loop_name()}"]
        assert app.requests == REQUESTS + 2

    run(main)


def test_server_serve_unix_socket(run, tmp_path):
    app = apps.ASGIApp()
    path = str(tmp_path / "uvicorn.sock")

    async def main():
        server = uvicorn.Server(uvicorn.Config(app, uds=path, lifespan="on", log_level="warning"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            assert not task.done(), task
            await asyncio.sleep(0.01)
        try:
            await drive_http("http://uvicorn", 200, apps.loop_name(), uds=path)
        finally:
            server.should_exit = True
            await task
        assert app.requests == 200 + 2

    run(main)


def test_server_run_with_loop_option():
    """uvicorn owns the loop, made by the factory named in Config(loop=...)."""
    app = apps.ASGIApp()
    config = uvicorn.Config(app, host="127.0.0.1", port=0, loop="aioloop:new_event_loop",
                            lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    errors = []

    def serve():
        try:
            server.run()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, errors
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        sync_requests(f"http://127.0.0.1:{port}", 200, "aioloop._core.Loop")
    finally:
        server.should_exit = True
        thread.join(30)
    assert not thread.is_alive() and not errors
    assert app.events == ["startup:aioloop._core.Loop", "shutdown:aioloop._core.Loop"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("loop_option,server_loop", [
    ("aioloop:new_event_loop", "aioloop._core.Loop"),
    ("asyncio", "asyncio.unix_events._UnixSelectorEventLoop"),  # the oracle
], ids=["aioloop", "asyncio"])
def test_command_line(sig, loop_option, server_loop):
    """`uvicorn --loop aioloop:new_event_loop` in a child process; a signal stops it
    gracefully: the lifespan shutdown runs and uvicorn says it finished."""
    child = Child(["-m", "uvicorn", "integration_apps:app", "--loop", loop_option,
                   "--host", "127.0.0.1", "--port", "0", "--lifespan", "on", "--no-access-log"])
    try:
        line = child.expect(lambda line: "Uvicorn running on" in line)
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)", line).group(1))
        assert f"asgi-app lifespan startup on {server_loop}" in child.text()
        sync_requests(f"http://127.0.0.1:{port}", 200, server_loop)
        # Let the loop go idle in epoll_wait(), where the signal has to wake it.
        time.sleep(0.3)
        child.proc.send_signal(sig)
        status = child.wait()
        out = child.text()
        # After a graceful shutdown uvicorn restores the previous handlers and
        # raises the signal again, so SIGTERM ends the process by SIGTERM.
        assert status in (0, -sig), out
        assert f"asgi-app lifespan shutdown on {server_loop}" in out, out
        assert "Finished server process" in out, out
    finally:
        child.kill()
