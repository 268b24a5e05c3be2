"""examples/sharded_http.py: started on an ephemeral port with two dispatch threads,
asked a few requests over plain sockets, then stopped by a signal."""

import importlib.util
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sharded_http.py"
PARSERS = ["builtin"] + [p for p in ("httptools", "h11") if importlib.util.find_spec(p)]


def work(iters):
    x = 0
    for i in range(iters):
        x += i * i
    return x


def read_line(proc, timeout):
    """The child's next stdout line, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            pytest.fail(f"no line from the server within {timeout} s (got {buf!r})")
        chunk = os.read(fd, 1)
        if not chunk:
            pytest.fail(f"the server exited: {proc.wait()} {proc.stderr.read().decode()[-2000:]}")
        buf += chunk
    return buf.decode()


def read_response(sock):
    """(status, headers, body) of one HTTP response read from a blocking socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed mid-response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, "connection closed mid-body"
        body += chunk
    assert len(body) == length, "more bytes than Content-Length"
    return status, headers, body.decode()


def get(sock, path, version="1.1", extra=""):
    sock.sendall(f"GET {path} HTTP/{version}\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode())
    return read_response(sock)


@pytest.mark.parametrize("parser", PARSERS)
def test_sharded_http_serves_and_shuts_down(parser):
    proc = subprocess.Popen([sys.executable, str(EXAMPLE), "--threads", "2", "--port", "0",
                             "--host", "127.0.0.1", "--parser", parser],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = read_line(proc, 60)
        m = re.match(r"listening on http://127\.0\.0\.1:(\d+)/ \(2 threads, parser (\w+)", line)
        assert m and m.group(2) == parser, line
        port = int(m.group(1))

        conns, requests, threads_seen = 0, 0, set()
        for _ in range(6):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                conns += 1
                status, headers, body = get(sock, "/")
                requests += 1
                assert status == 200 and headers["x-thread"] in ("0", "1")
                assert body == f"hello from dispatch thread {headers['x-thread']}\n"
                threads_seen.add(headers["x-thread"])
                # keep-alive: more requests on the same connection, the same thread
                status, headers2, body = get(sock, "/cpu/1000")
                requests += 1
                assert status == 200 and body == f"{work(1000)}\n"
                assert headers2["x-thread"] == headers["x-thread"]
                status, _, _ = get(sock, "/nope")
                requests += 1
                assert status == 404
        # HTTP/1.0 without keep-alive: answered, then closed by the server
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            conns += 1
            status, headers, _ = get(sock, "/", version="1.0")
            requests += 1
            assert status == 200 and headers.get("connection", "").lower() == "close"
            assert sock.recv(1) == b""
        # a connection left open is closed by the shutdown
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        conns += 1
        assert get(idle, "/")[0] == 200
        requests += 1

        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert idle.recv(1) == b""
        idle.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode()[-2000:]
    text = out.decode()
    per_conn = re.search(r"connections per thread: 0: (\d+), 1: (\d+)", text)
    per_req = re.search(r"requests per thread: 0: (\d+), 1: (\d+)", text)
    assert per_conn and per_req, text
    assert int(per_conn[1]) + int(per_conn[2]) == conns
    assert int(per_req[1]) + int(per_req[2]) == requests
    assert b"Traceback" not in err, err.decode()[-2000:]
