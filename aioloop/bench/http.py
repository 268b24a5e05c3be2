"""HTTP benchmark: an HTTP/1.1 keep-alive server on httptools under each loop, driven by wrk.

The server is the smallest honest one: an ``asyncio.Protocol`` feeding an
``httptools.HttpRequestParser`` and answering every request with a fixed
12-byte body, keeping the connection open as HTTP/1.1 asks.  ``wrk`` (a C
load generator; ``apt-get install wrk``) keeps 100 connections busy.  When
wrk or httptools is missing, the workload is reported as skipped, with why.

The ratio is taken from the server's CPU time per request, read from /proc
before and after wrk's run, like the echo benchmarks'.
"""

import asyncio
import importlib.util
import math
import re
import shutil
import subprocess

from .model import CellError, Workload
from .proc import Child, server_cpu_ns, worker_argv
from .worker import set_nodelay

HOST = "127.0.0.1"
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n"
            b"Hello World!")


PRIMARY = "cpu_us_per_req"
HIGHER_IS_BETTER = False
COLUMNS = ("cpu_us_per_req", "req_per_s", "p50_us", "p99_us")


def workloads(quick=False):
    return [Workload(id="http-httptools", suite="http", title="HTTP/1.1 keep-alive, httptools, wrk",
                     native=True)]


def unavailable():
    """Why this suite cannot run here (a sentence), or None when it can."""
    if shutil.which("wrk") is None:
        return "wrk is not installed (apt-get install wrk)"
    if importlib.util.find_spec("httptools") is None:
        return "httptools is not installed (pip install httptools)"
    return None


# --- server side ---

class HttpProtocol(asyncio.Protocol):
    def __init__(self, httptools):
        self.parser = httptools.HttpRequestParser(self)
        self.error = httptools.HttpParserError

    def connection_made(self, transport):
        self.transport = transport
        set_nodelay(transport.get_extra_info("socket"))

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except self.error:
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                 b"Connection: close\r\n\r\n")
            self.transport.close()

    def on_message_complete(self):
        self.transport.write(RESPONSE)
        if not self.parser.should_keep_alive():
            self.transport.close()


async def start_server(loop):
    import httptools  # here, not at the top: the bench process needs no httptools
    server = await loop.create_server(lambda: HttpProtocol(httptools), HOST, 0, backlog=1024)
    return server.sockets[0].getsockname()[1]


# --- driver side ---

_UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def parse_wrk(text):
    """wrk's report -> {"requests", "seconds", "req_per_s", "p50_us", "p99_us"}.
    Raises CellError when wrk reports errors or no requests."""
    def number(pattern):
        m = re.search(pattern, text, re.M)
        return m and m.groups()

    done = number(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)\b")
    if not done or int(done[0]) == 0:
        raise CellError(f"wrk completed no request: {text.strip()[-300:]}")
    errors = number(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
    if errors and any(int(x) for x in errors):
        raise CellError("wrk socket errors: connect {}, read {}, write {}, timeout {}".format(*errors))
    bad = number(r"Non-2xx or 3xx responses: (\d+)")
    if bad:
        raise CellError(f"{bad[0]} responses were not 2xx/3xx")
    lat = {}
    for pct in ("50", "99"):
        m = number(rf"^\s*{pct}(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$")
        if not m:
            raise CellError(f"no {pct}% latency in wrk's report (is it wrk 4?)")
        lat[pct] = float(m[0]) * _UNITS[m[1]]
    requests = int(done[0])
    seconds = float(done[1]) * _UNITS[done[2]] / 1e6
    return {"requests": requests, "seconds": seconds, "req_per_s": requests / seconds,
            "p50_us": lat["50"], "p99_us": lat["99"]}


def measure(workload, loop, settings):
    """Run one cell: start the server under `loop`, run wrk against it, stop it."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise CellError("wrk is not installed", fatal=True)
    if loop.native:
        if not settings.ref_server:
            raise CellError("the C reference server is not built", fatal=True)
        argv = [settings.ref_server, "0", "http"]
    else:
        argv = worker_argv("http", loop=loop.factory)
    seconds = max(1, math.ceil(settings.duration))  # wrk takes whole seconds
    with Child(argv, cpu=settings.server_cpu, what="server") as server:
        ready = server.read_json(settings.start_timeout)
        pid = ready["pid"]
        cpu0, _ = server_cpu_ns(pid)
        cmd = [wrk, "-t1", f"-c{settings.http_connections}", f"-d{seconds}s", "--latency",
               "--timeout", "5s", f"http://{HOST}:{ready['ready']}/"]
        with Child(cmd, cpu=settings.client_cpu, what="wrk") as client:
            out = _read_all(client, seconds + 30)
        cpu1, _ = server_cpu_ns(pid)
        server.check_alive()
        try:
            result = parse_wrk(out)
        except CellError as e:
            tail = server.stderr_tail()
            raise CellError(f"{e}" + (f" [server: {tail}]" if tail else "")) from None
    result["cpu_us_per_req"] = (cpu1 - cpu0) / 1000 / result["requests"]
    del result["requests"], result["seconds"]
    return result


def _read_all(child, timeout):
    """All of a child's stdout, waiting at most `timeout` seconds."""
    try:
        out, _ = child.proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CellError(f"wrk did not finish within {timeout} s") from None
    return out.decode(errors="replace")
