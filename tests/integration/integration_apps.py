"""The small applications the integration tests serve, and the data they move.

Kept apart from the tests so that the same aiohttp app runs in the test's own
loop and in a server subprocess (serve_aiohttp.py), and the same ASGI app runs
under uvicorn in-process and from uvicorn's command line.
"""

import asyncio
import hashlib
import json
import os
import random

CHUNK = 64 * 1024
_BLOCK = random.Random(20240501).randbytes(CHUNK + 4096)


def payload_chunks(size, chunk=CHUNK):
    """Deterministic pseudo-random bytes, `size` in all, in pieces of at most
    `chunk`. Each piece starts at a different offset of a random block, so a
    dropped, repeated or reordered piece changes the checksum."""
    i = sent = 0
    while sent < size:
        n = min(chunk, size - sent)
        off = (i * 61) % 4096
        yield _BLOCK[off:off + n]
        sent += n
        i += 1


def payload_sha256(size):
    h = hashlib.sha256()
    for piece in payload_chunks(size):
        h.update(piece)
    return h.hexdigest()


def loop_name():
    loop = asyncio.get_running_loop()
    return f"{type(loop).__module__}.{type(loop).__qualname__}"


def ws_message(i):
    """The i-th websocket message of an echo test: text and binary of varied
    sizes (0 to ~4 KiB), each one unique."""
    if i % 3 == 0:
        return f"text-{i}-" + "x" * (i % 257)
    return i.to_bytes(4, "big") + _BLOCK[i % 4096:i % 4096 + (i * 7) % 4093]


def digest_update(h, msg):
    """Fold one websocket message into a running checksum, type included."""
    if isinstance(msg, str):
        h.update(b"T" + len(msg).to_bytes(4, "big") + msg.encode())
    else:
        h.update(b"B" + len(msg).to_bytes(4, "big") + msg)


# ---------------------------------------------------------------- aiohttp

STATS = None  # the aiohttp AppKey under which the app keeps its request counts


def make_aiohttp_app():
    from aiohttp import WSMsgType, web

    global STATS
    if STATS is None:
        STATS = web.AppKey("stats", dict)
    stats = {"requests": 0}

    async def get_json(request):
        stats["requests"] += 1
        return web.json_response({
            "hello": request.query.get("name", "world"),
            "loop": loop_name(),
            "pid": os.getpid(),
        })

    async def post_json(request):
        stats["requests"] += 1
        data = await request.json()
        values = data["values"]
        return web.json_response({"n": len(values), "sum": sum(values), "tag": data["tag"][::-1]},
                                 status=201)

    async def upload(request):
        h = hashlib.sha256()
        size = 0
        async for piece in request.content.iter_chunked(CHUNK):
            h.update(piece)
            size += len(piece)
        return web.json_response({"size": size, "sha256": h.hexdigest()})

    async def download(request):
        size = int(request.query["size"])
        resp = web.StreamResponse()
        resp.content_type = "application/octet-stream"
        resp.content_length = size
        await resp.prepare(request)
        for piece in payload_chunks(size):
            await resp.write(piece)
        await resp.write_eof()
        return resp

    async def item(request):
        stats["requests"] += 1
        i = int(request.match_info["i"])
        await asyncio.sleep(0.001 * (i % 3))  # let responses finish out of order
        peer_port = request.transport.get_extra_info("peername")[1]
        return web.json_response({"i": i, "square": i * i, "peer": peer_port})

    async def get_stats(request):
        return web.json_response(stats)

    async def ws_echo(request):
        ws = web.WebSocketResponse(max_msg_size=1 << 20)
        await ws.prepare(request)
        h = hashlib.sha256()
        count = 0
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                if msg.data == "__stats__":
                    await ws.send_str(json.dumps({"count": count, "sha256": h.hexdigest()}))
                    continue
                digest_update(h, msg.data)
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                digest_update(h, msg.data)
                await ws.send_bytes(msg.data)
            else:
                break
            count += 1
        return ws

    app = web.Application(client_max_size=1 << 20)
    app[STATS] = stats
    app.router.add_get("/json", get_json)
    app.router.add_post("/json", post_json)
    app.router.add_post("/upload", upload)
    app.router.add_get("/download", download)
    app.router.add_get("/item/{i}", item)
    app.router.add_get("/stats", get_stats)
    app.router.add_get("/ws", ws_echo)
    return app


# ---------------------------------------------------------------- ASGI (uvicorn)


class ASGIApp:
    """A small ASGI app: lifespan, JSON, a body echo with checksum, a websocket echo."""

    def __init__(self):
        self.events = []
        self.requests = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[1]  # startup / shutdown
                self.events.append(f"{kind}:{loop_name()}")
                print(f"asgi-app lifespan {kind} on {loop_name()}", flush=True)
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] == "websocket":
            return await self.websocket(receive, send)
        self.requests += 1
        path = scope["path"]
        if path == "/loop":
            body = json.dumps({"loop": loop_name(), "pid": os.getpid()}).encode()
        elif path.startswith("/item/"):
            i = int(path[6:])
            body = json.dumps({"i": i, "square": i * i}).encode()
        elif path == "/echo":
            h = hashlib.sha256()
            size = 0
            more = True
            while more:
                message = await receive()
                chunk = message.get("body", b"")
                h.update(chunk)
                size += len(chunk)
                more = message.get("more_body", False)
            body = json.dumps({"size": size, "sha256": h.hexdigest()}).encode()
        else:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"not found"})
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    async def websocket(self, receive, send):
        message = await receive()
        assert message["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message["bytes"]})


app = ASGIApp()  # for uvicorn's command line: `uvicorn integration_apps:app`
