"""Echo benchmarks: a server under each loop, a load client that is not the bottleneck.

Three servers, one per way an asyncio program does network I/O:

- ``protocol``: ``loop.create_server`` with an ``asyncio.Protocol`` whose
  ``data_received`` writes the data back;
- ``streams``: ``asyncio.start_server``, ``reader.read`` / ``writer.write`` /
  ``await writer.drain()``;
- ``sock``: ``loop.sock_accept``, ``loop.sock_recv`` / ``loop.sock_sendall``.

Each sets TCP_NODELAY on accepted connections itself (worker.set_nodelay).

The load client (csrc/echo_client.c, or the Python fallback in loadclient.py)
keeps one request of SIZE bytes in flight on each of N connections, and reads
the server's CPU time at the edges of its measurement window.  The figure the
ratio is taken from is the server's CPU time per request: on a shared 2-core
machine it is far steadier than requests per second.
"""

import asyncio
import socket
import sys

from .model import CellError, Workload
from .proc import Child, run_json, worker_argv
from .worker import report_exception, set_nodelay

HOST = "127.0.0.1"
READ_SIZE = 256 * 1024

KINDS = {
    "protocol": "protocol echo",
    "streams": "streams echo",
    "sock": "sock_recv/sock_sendall echo",
}
SIZES = {1024: "1 KiB", 10 * 1024: "10 KiB", 100 * 1024: "100 KiB"}
QUICK = (("protocol", 1024), ("streams", 1024), ("sock", 1024))


# The ratio to asyncio comes from PRIMARY; COLUMNS are shown in the table.
PRIMARY = "cpu_us_per_req"
HIGHER_IS_BETTER = False
COLUMNS = ("cpu_us_per_req", "req_per_s", "p50_us", "p99_us")


def workloads(quick=False):
    """The echo workloads in table order: each kind at each size (the --quick subset when quick)."""
    chosen = QUICK if quick else [(k, s) for k in KINDS for s in SIZES]
    return [
        Workload(id=f"echo-{kind}-{size // 1024}k", suite="echo", title=f"{KINDS[kind]} {SIZES[size]}",
                 params={"kind": kind, "size": size}, native=True)
        for kind, size in chosen
    ]


# --- server side: runs in the worker process under the loop being measured ---

class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        set_nodelay(transport.get_extra_info("socket"))

    def data_received(self, data):
        self.transport.write(data)


async def serve_protocol(loop):
    server = await loop.create_server(EchoProtocol, HOST, 0, backlog=1024)
    return server.sockets[0].getsockname()[1]


async def _echo_stream(reader, writer):
    set_nodelay(writer.get_extra_info("socket"))
    try:
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    except Exception as e:
        report_exception("streams handler", e)
    finally:
        writer.close()


async def serve_streams(loop):
    server = await asyncio.start_server(_echo_stream, HOST, 0, backlog=1024)
    return server.sockets[0].getsockname()[1]


_serving = set()  # sock server tasks, referenced while they run


async def serve_sock(loop):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    listener.listen(1024)
    listener.setblocking(False)
    handlers = _serving

    async def echo(conn):
        try:
            while True:
                data = await loop.sock_recv(conn, READ_SIZE)
                if not data:
                    break
                await loop.sock_sendall(conn, data)
        except ConnectionError:
            pass
        except Exception as e:
            report_exception("sock handler", e)
        finally:
            conn.close()

    async def accept():
        while True:
            conn, _ = await loop.sock_accept(listener)
            conn.setblocking(False)
            set_nodelay(conn)
            task = loop.create_task(echo(conn))
            handlers.add(task)
            task.add_done_callback(handlers.discard)

    acceptor = loop.create_task(accept())
    # Let the accept loop reach its first await: a loop without sock_accept
    # fails here, before the server says it is ready, not under load.
    for _ in range(3):
        await asyncio.sleep(0)
    if acceptor.done():
        acceptor.result()
    _serving.add(acceptor)  # the loop keeps only weak references to tasks
    return listener.getsockname()[1]


SERVERS = {"protocol": serve_protocol, "streams": serve_streams, "sock": serve_sock}


# --- driver side: runs in the bench process ---

def client_argv(settings, port, size, server_pid):
    """argv of the load client: the C one when built, else the Python fallback."""
    args = [HOST, str(port), str(settings.connections), str(size),
            f"{settings.duration:g}", f"{settings.warmup:g}", str(server_pid)]
    if settings.client:
        return [settings.client, *args]
    return [sys.executable, "-m", "aioloop.bench.loadclient", *args]


def measure(workload, loop, settings):
    """Run one cell: start the server under `loop`, load it, stop it.
    Returns the metrics dict; raises CellError."""
    size = workload.params["size"]
    if loop.native:
        if not settings.ref_server:
            raise CellError("the C reference server is not built", fatal=True)
        argv = [settings.ref_server, "0", "echo"]
    else:
        argv = worker_argv("echo", loop=loop.factory, kind=workload.params["kind"])
    with Child(argv, cpu=settings.server_cpu, what="server") as server:
        ready = server.read_json(settings.start_timeout)
        try:
            result = run_json(client_argv(settings, ready["ready"], size, ready["pid"]),
                              timeout=settings.warmup + settings.duration + 30,
                              cpu=settings.client_cpu, what="load client")
        except CellError as e:
            tail = server.stderr_tail()
            raise CellError(f"{e}" + (f" [server: {tail}]" if tail else "")) from None
        server.check_alive()
    return client_metrics(result)


def client_metrics(result):
    """The cell's metrics from a load client's result line."""
    requests = result["requests"]
    return {
        "cpu_us_per_req": result["server_cpu_ns"] / 1000 / requests,
        "req_per_s": requests / result["seconds"],
        "p50_us": result["p50_us"],
        "p99_us": result["p99_us"],
    }
