"""An HTTP/1.1 server sharded over every core with aioloop's Scheduler.

    python examples/sharded_http.py [--threads N] [--port 8080] [--cpu-work ITERS]

``Scheduler.create_server`` opens one SO_REUSEPORT listening socket per
dispatch thread; the kernel spreads connections over them and each thread
serves the connections it accepted, start to end, on its own loop
(shard-per-core). On a free-threaded Python (3.13t, GIL off) the threads run
the handlers in parallel; with the GIL they share one core's worth of Python.

Requests (keep-alive, HTTP/1.1 and 1.0):

    GET /          "hello from dispatch thread I"
    GET /cpu/N     N iterations of pure-Python work, then their result:
                   a CPU-heavy handler (--cpu-work ITERS adds that much to every request)

Every response says which dispatch thread served it (``X-Thread: I``). The
parser is httptools when installed, else h11, else a small one written here
(``--parser`` chooses). SIGINT or SIGTERM stops it: the listeners close, open
connections are closed on their own threads, and the per-thread connection
and request counts are printed.
"""

import argparse
import asyncio
import importlib.util
import os
import signal
import sys
import threading

import aioloop

MAX_HEADER = 64 * 1024


def work(iters):
    """Pure-Python CPU work, the body of the CPU-heavy handler."""
    x = 0
    for i in range(iters):
        x += i * i
    return x


class Stats:
    """Counts per dispatch thread: element i is written only by thread i."""

    def __init__(self, threads):
        self.connections = [0] * threads
        self.requests = [0] * threads
        self.open = [set() for _ in range(threads)]  # live protocols, per thread


def respond(path, thread, cpu_work):
    """(status, body) for a request path, computed on this dispatch thread."""
    if path == "/":
        extra = work(cpu_work) if cpu_work else None
        body = f"hello from dispatch thread {thread}" + (f" ({extra})" if extra is not None else "")
        return 200, body + "\n"
    if path.startswith("/cpu/"):
        try:
            n = int(path[5:])
        except ValueError:
            return 400, "bad iteration count\n"
        if not 0 <= n <= 100_000_000:
            return 400, "iteration count out of range\n"
        return 200, f"{work(n + cpu_work)}\n"
    return 404, "not found\n"


REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found"}


def response_bytes(status, body, thread, keep_alive):
    data = body.encode()
    head = (f"HTTP/1.1 {status} {REASONS[status]}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\n"
            f"X-Thread: {thread}\r\n"
            + ("" if keep_alive else "Connection: close\r\n")
            + "\r\n")
    return head.encode("latin-1") + data


class HttpProtocol(asyncio.Protocol):
    """One connection, on the dispatch thread that accepted it. Subclasses feed
    their parser and call self.request(path, keep_alive) per complete request."""

    def __init__(self, stats, cpu_work):
        self.stats = stats
        self.cpu_work = cpu_work
        self.thread = aioloop.thread_index() or 0
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.stats.connections[self.thread] += 1
        self.stats.open[self.thread].add(self)

    def connection_lost(self, exc):
        self.stats.open[self.thread].discard(self)
        self.transport = None

    def request(self, path, keep_alive):
        if self.transport is None or self.transport.is_closing():
            return
        self.stats.requests[self.thread] += 1
        status, body = respond(path, self.thread, self.cpu_work)
        self.transport.write(response_bytes(status, body, self.thread, keep_alive))
        if not keep_alive:
            self.transport.close()

    def bad_request(self):
        if self.transport is not None:
            self.transport.write(response_bytes(400, "bad request\n", self.thread, False))
            self.transport.close()


class HttptoolsProtocol(HttpProtocol):
    def __init__(self, stats, cpu_work):
        super().__init__(stats, cpu_work)
        import httptools
        self.parser = httptools.HttpRequestParser(self)
        self.error = httptools.HttpParserError
        self.url = b""

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except self.error:
            self.bad_request()

    def on_message_begin(self):
        self.url = b""

    def on_url(self, url):
        self.url += url

    def on_message_complete(self):
        path = self.url.split(b"?", 1)[0].decode("latin-1")
        self.request(path, self.parser.should_keep_alive())


class H11Protocol(HttpProtocol):
    def __init__(self, stats, cpu_work):
        super().__init__(stats, cpu_work)
        import h11
        self.h11 = h11
        self.conn = h11.Connection(h11.SERVER)

    def data_received(self, data):
        h11 = self.h11
        self.conn.receive_data(data)
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError:
                self.bad_request()
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                break
            if isinstance(event, h11.Request):
                self.path = event.target.split(b"?", 1)[0].decode("latin-1")
            elif isinstance(event, h11.EndOfMessage):
                self.respond_h11()
                if self.conn.our_state is h11.MUST_CLOSE or self.transport is None:
                    if self.transport is not None:
                        self.transport.close()
                    return
                self.conn.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                break

    def respond_h11(self):
        h11 = self.h11
        if self.transport is None or self.transport.is_closing():
            return
        self.stats.requests[self.thread] += 1
        status, body = respond(self.path, self.thread, self.cpu_work)
        data = body.encode()
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data))),
                   ("X-Thread", str(self.thread))]
        out = self.conn.send(h11.Response(status_code=status, headers=headers, reason=REASONS[status]))
        out += self.conn.send(h11.Data(data=data)) + self.conn.send(h11.EndOfMessage())
        self.transport.write(out)


class PlainProtocol(HttpProtocol):
    """A minimal HTTP/1.1 request parser: request line, headers, a Content-Length body
    (read and ignored); no chunked request bodies (answered 400)."""

    def __init__(self, stats, cpu_work):
        super().__init__(stats, cpu_work)
        self.buf = bytearray()

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEADER:
                    self.bad_request()
                return
            head = bytes(self.buf[:end]).decode("latin-1")
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self.bad_request()
                return
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    self.bad_request()
                    return
                headers[name.strip().lower()] = value.strip().lower()
            if "chunked" in headers.get("transfer-encoding", ""):
                self.bad_request()
                return
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                self.bad_request()
                return
            if len(self.buf) < end + 4 + length:
                return  # the body is still coming
            del self.buf[:end + 4 + length]
            conn = headers.get("connection", "")
            keep = "close" not in conn if parts[2] == "HTTP/1.1" else "keep-alive" in conn
            self.request(parts[1].split("?", 1)[0], keep)
            if not keep:
                return


PARSERS = {"httptools": HttptoolsProtocol, "h11": H11Protocol, "builtin": PlainProtocol}


def choose_parser(name):
    if name != "auto":
        return name
    for candidate in ("httptools", "h11"):
        if importlib.util.find_spec(candidate) is not None:
            return candidate
    return "builtin"


async def close_connections(stats):
    """On one dispatch thread: close the connections it serves."""
    for proto in list(stats.open[aioloop.thread_index() or 0]):
        if proto.transport is not None:
            proto.transport.close()


async def serve(args):
    s = aioloop.current_scheduler()
    threads = s.threads if s is not None else 1
    stats = Stats(threads)
    proto = PARSERS[args.parser]
    if s is not None:
        server = await s.create_server(lambda: proto(stats, args.cpu_work), args.host, args.port,
                                       backlog=1024)
    else:  # --threads 1: a plain loop
        server = await asyncio.get_running_loop().create_server(
            lambda: proto(stats, args.cpu_work), args.host, args.port, backlog=1024, reuse_port=True)
    port = server.sockets[0].getsockname()[1]
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"listening on http://{args.host}:{port}/ ({threads} threads, parser {args.parser}, "
          f"GIL {'on' if gil else 'off'}, pid {os.getpid()})", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
        for i in range(threads):
            if s is not None:
                await aioloop.spawn(close_connections(stats), hint=i)
            else:
                await close_connections(stats)
        await server.wait_closed()
        print("connections per thread: " +
              ", ".join(f"{i}: {n}" for i, n in enumerate(stats.connections)), flush=True)
        print("requests per thread: " +
              ", ".join(f"{i}: {n}" for i, n in enumerate(stats.requests)), flush=True)
    return stats


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="dispatch threads, one listener each (default: every CPU)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="0: any free port (printed)")
    p.add_argument("--cpu-work", type=int, default=0, metavar="ITERS",
                   help="iterations of pure-Python work added to every request (a CPU-heavy handler)")
    p.add_argument("--parser", choices=("auto", *PARSERS), default="auto")
    args = p.parse_args(argv)
    if args.threads < 1 or args.cpu_work < 0:
        p.error("--threads must be positive and --cpu-work not negative")
    args.parser = choose_parser(args.parser)
    return args


def main(argv=None):
    args = parse_args(argv)
    aioloop.run(serve(args), threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
