"""The echo load client in Python: the fallback where no C compiler exists.

    python -m aioloop.bench.loadclient HOST PORT CONNECTIONS SIZE DURATION WARMUP SERVER_PID

Same arguments, same behaviour and the same JSON line as csrc/echo_client.c
(read that file's comment).  It is several times slower than the C client, so
with it a fast server may wait on the client: requests/s and latency then
describe the client as much as the server.  The server's CPU time per request
stays a fair comparison, which is why the ratios are taken from it.
"""

import errno
import json
import select
import socket
import sys
import time

from .model import CellError
from .proc import server_cpu_ns


def _fail(message):
    print(json.dumps({"error": message}), flush=True)
    sys.exit(1)


def run(host, port, nconns, size, duration, warmup, server_pid):
    """Drive the server; return the result dict (raises CellError or OSError)."""
    payload = bytes(ord("a") + i % 26 for i in range(size))
    ep = select.epoll()
    conns = {}
    for _ in range(nconns):
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        # per connection: [socket, bytes sent, bytes received, start time, EPOLLOUT armed]
        conns[s.fileno()] = [s, 0, 0, 0.0, False]
        ep.register(s.fileno(), select.EPOLLIN)

    def pump(c):
        s = c[0]
        while c[1] < size:
            try:
                c[1] += s.send(payload[c[1]:])
            except BlockingIOError:
                break
        want_out = c[1] < size
        if want_out != c[4]:
            ep.modify(s.fileno(), select.EPOLLIN | (select.EPOLLOUT if want_out else 0))
            c[4] = want_out

    def start(c, t):
        c[1] = c[2] = 0
        c[3] = t
        pump(c)

    t0 = time.monotonic()
    window_start, window_end = t0 + warmup, t0 + warmup + duration
    for c in conns.values():
        start(c, t0)
    latencies = []
    in_window = False
    cpu_start = measured_start = 0
    while True:
        t = time.monotonic()
        if not in_window and t >= window_start:
            cpu_start, source = server_cpu_ns(server_pid)
            measured_start = time.monotonic()
            in_window = True
        if in_window and t >= window_end:
            cpu_end, source = server_cpu_ns(server_pid)
            measured_end = time.monotonic()
            break
        for fd, ev in ep.poll((window_end if in_window else window_start) - t + 0.001):
            c = conns[fd]
            if ev & select.EPOLLOUT:
                pump(c)
            if not ev & (select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP):
                continue
            while True:
                try:
                    data = c[0].recv(262144)
                except BlockingIOError:
                    break
                if not data:
                    raise CellError("the server closed a connection")
                c[2] += len(data)
                if c[2] > c[1]:
                    raise CellError("the server sent more bytes than it was sent")
                if c[2] == size:
                    done = time.monotonic()
                    if in_window and done < window_end:
                        latencies.append(done - c[3])
                    start(c, done)
                    break
    for c in conns.values():
        c[0].close()
    ep.close()
    if not latencies:
        raise CellError("no response from the server inside the measurement window")
    latencies.sort()
    n = len(latencies)

    def pct(p):  # nearest rank, as in the C client
        return latencies[min(n, max(1, -(-n * p // 100))) - 1] * 1e6

    return {"requests": n, "seconds": measured_end - measured_start,
            "p50_us": round(pct(50), 2), "p99_us": round(pct(99), 2),
            "server_cpu_ns": cpu_end - cpu_start, "cpu_source": source}


def main(argv):
    if len(argv) != 7:
        print(__doc__, file=sys.stderr)
        return 2
    host, port, nconns, size, duration, warmup, pid = argv
    try:
        result = run(host, int(port), int(nconns), int(size), float(duration), float(warmup), int(pid))
    except CellError as e:
        _fail(str(e))
    except OSError as e:
        _fail(f"{e.strerror or e} ({errno.errorcode.get(e.errno, e.errno)})")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
