"""Sharded servers: one SO_REUSEPORT listening socket per dispatch loop.

Each loop accepts and serves its own connections (shard-per-core); the
kernel spreads incoming connections over the listeners. The object returned
has asyncio.Server's interface and forwards each call to every shard on the
shard's own loop."""

import asyncio as _asyncio
from asyncio import events as _events


async def _on_loop(loop, coro):
    # Run coro on `loop` and wait for it from the current loop.
    if _events._get_running_loop() is loop:
        return await coro
    return await _asyncio.wrap_future(
        _asyncio.run_coroutine_threadsafe(coro, loop))


def _call_on_loop(loop, fn):
    if _events._get_running_loop() is loop:
        fn()
    else:
        loop.call_soon_threadsafe(fn)


async def _open(protocol_factory, host, port, kwargs):
    loop = _events.get_running_loop()
    return await loop.create_server(protocol_factory, host, port, **kwargs)


def stream_factory(client_connected_cb, limit):
    """asyncio.start_server's protocol factory, made on the accepting loop."""
    def factory():
        loop = _events.get_running_loop()
        reader = _asyncio.StreamReader(limit=limit, loop=loop)
        return _asyncio.StreamReaderProtocol(reader, client_connected_cb,
                                             loop=loop)
    return factory


async def create_sharded_server(sched, protocol_factory, host, port, kwargs):
    for name in ("sock", "reuse_port"):
        if name in kwargs:
            raise ValueError(f"a sharded server takes no {name}= (it binds one "
                             f"SO_REUSEPORT socket per dispatch loop itself)")
    kwargs = dict(kwargs, reuse_port=True)
    loops = sched.loops
    servers = [await _on_loop(loops[0], _open(protocol_factory, host, port,
                                               kwargs))]
    if not port:
        # The kernel chose a port for loop 0: every other shard joins it.
        port = servers[0].sockets[0].getsockname()[1]
    try:
        servers += await _asyncio.gather(*(
            _on_loop(loop, _open(protocol_factory, host, port, kwargs))
            for loop in loops[1:]))
    except BaseException:
        for loop, srv in zip(loops, servers):
            _call_on_loop(loop, srv.close)
        raise
    return ShardedServer(loops, servers)


class ShardedServer:
    """asyncio.Server's interface over one server per dispatch loop."""

    def __init__(self, loops, servers):
        self._shards = list(zip(loops, servers))

    def __repr__(self):
        return f"<aioloop.ShardedServer shards={len(self._shards)} sockets={self.sockets!r}>"

    @property
    def shards(self):
        """The per-loop asyncio servers, by dispatch thread index."""
        return tuple(srv for _, srv in self._shards)

    @property
    def sockets(self):
        return tuple(s for _, srv in self._shards for s in srv.sockets)

    def get_loop(self):
        return self._shards[0][0]

    def is_serving(self):
        return any(srv.is_serving() for _, srv in self._shards)

    def close(self):
        for loop, srv in self._shards:
            _call_on_loop(loop, srv.close)

    def close_clients(self):
        for loop, srv in self._shards:
            _call_on_loop(loop, srv.close_clients)

    def abort_clients(self):
        for loop, srv in self._shards:
            _call_on_loop(loop, srv.abort_clients)

    async def start_serving(self):
        await _asyncio.gather(*(_on_loop(loop, srv.start_serving())
                                for loop, srv in self._shards))

    async def wait_closed(self):
        await _asyncio.gather(*(_on_loop(loop, srv.wait_closed())
                                for loop, srv in self._shards))

    async def serve_forever(self):
        try:
            await _asyncio.gather(*(_on_loop(loop, srv.serve_forever())
                                    for loop, srv in self._shards))
        finally:
            self.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()
        await self.wait_closed()
