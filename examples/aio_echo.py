"""A libaio-style program in callback style: an echo server on 4 dispatch
threads, written with one-shot read/write callbacks, an interval timer and a
daemon fsync, and not one coroutine.

    python examples/aio_echo.py              # self-test: clients in a plain
                                             # thread, exits 0 when every echo
                                             # came back intact
    python examples/aio_echo.py --serve 8007 # serve until Ctrl-C

As in libaio, each connection lives on one dispatch thread: the accepting
callback hands it to a thread (round robin, by hint) and every later
callback of that connection runs there, so its state needs no lock. Every
0.1 s a timer appends the counters to a log file and has the daemon pool
fsync it; the fsync's error handler gets 0 or an errno.
"""

import argparse
import itertools
import os
import socket
import sys
import tempfile
import threading

from aioloop import aio

THREADS = 4


class Counters:
    """Totals shared by the threads (each update under the lock)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.conns = self.bytes = self.fsyncs = self.fsync_errors = 0

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)


class Conn:
    """One client connection, driven by one-shot callbacks on one thread."""

    def __init__(self, sock, counters):
        self.sock = sock
        self.counters = counters
        self.pending = b""

    def start(self):
        aio.read(self.on_read, self.sock.fileno())

    def on_read(self, fd):
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            aio.read(self.on_read, fd)       # spurious: wait again
            return
        except OSError:
            data = b""
        if not data:
            self.sock.close()
            return
        self.counters.add(bytes=len(data))
        self.pending = data
        self.on_write(fd)

    def on_write(self, fd):
        try:
            n = self.sock.send(self.pending)
        except BlockingIOError:
            n = 0
        except OSError:
            self.sock.close()
            return
        self.pending = self.pending[n:]
        if self.pending:
            aio.write(self.on_write, fd)     # the rest when there is room
        else:
            aio.read(self.on_read, fd)       # the next request


def serve(lsock, counters):
    """Install the accepting callback on dispatch thread 0."""
    turn = itertools.count()

    def on_accept(fd):
        while True:
            try:
                conn, _ = lsock.accept()
            except BlockingIOError:
                break
            conn.setblocking(False)
            counters.add(conns=1)
            c = Conn(conn, counters)
            aio.sched(c.start, hint=next(turn) % THREADS)
        aio.read(on_accept, fd)

    aio.read(on_accept, lsock.fileno())


def fsync_handler(counters):
    def on_fsync(err):
        if err:
            counters.add(fsync_errors=1)
        else:
            counters.add(fsyncs=1)
    return on_fsync


def log_every(interval, counters, log_fd):
    on_fsync = fsync_handler(counters)

    def tick():
        with counters.lock:
            line = f"conns={counters.conns} bytes={counters.bytes}\n"
        os.write(log_fd, line.encode())
        aio.fsync(on_fsync, log_fd)

    aio.add_interval(tick, interval)


def clients(port, n_clients, n_msgs, failures):
    """Plain-thread clients: each sends n_msgs messages and checks each echo.
    Returns the bytes sent."""
    sent = []

    def one(k):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                for i in range(n_msgs):
                    msg = f"client {k} message {i} ".encode() * (1 + i % 50)
                    s.sendall(msg)
                    got = b""
                    while len(got) < len(msg):
                        chunk = s.recv(65536)
                        if not chunk:
                            raise ConnectionError("closed early")
                        got += chunk
                    if got != msg:
                        raise AssertionError(f"client {k}: echo {i} differs")
                    sent.append(len(msg))
        except Exception as exc:
            failures.append(exc)

    ts = [threading.Thread(target=one, args=(k,)) for k in range(n_clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(sent)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--serve", type=int, metavar="PORT",
                    help="serve on PORT until Ctrl-C instead of the self-test")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--messages", type=int, default=200)
    args = ap.parse_args(argv)

    aio.ainit(nthr=THREADS, naiod=2)
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", args.serve or 0))
    lsock.listen(128)
    lsock.setblocking(False)
    port = lsock.getsockname()[1]
    counters = Counters()
    log = tempfile.NamedTemporaryFile(prefix="aio-echo-", suffix=".log", delete=False)
    log.close()
    log_fd = os.open(log.name, os.O_WRONLY | os.O_APPEND)
    failures = []
    sent = [0]
    on_fsync = fsync_handler(counters)

    # Callbacks installed before amain() run once the threads do; a callback
    # scheduled on thread 0 installs the listener there.
    aio.sched(serve, lsock, counters, hint=0)
    log_every(0.1, counters, log_fd)

    if args.serve is None:
        def drive():
            sent[0] = clients(port, args.clients, args.messages, failures)
            # A last log line, fsynced by a daemon; its handler ends amain().
            os.write(log_fd, f"done: {sent[0]} bytes\n".encode())
            def last_fsync(err):
                on_fsync(err)
                aio.aexit(1 if failures or err else 0)
            aio.fsync(last_fsync, log_fd)
        threading.Thread(target=drive, name="clients").start()
    else:
        print(f"echo server on 127.0.0.1:{port}, {THREADS} dispatch threads; log {log.name}")

    try:
        status = aio.amain()
    except KeyboardInterrupt:
        status = 0
    finally:
        lsock.close()
        os.close(log_fd)
    print(f"status {status}: {counters.conns} connections, {counters.bytes} bytes echoed, "
          f"{counters.fsyncs} fsyncs ({counters.fsync_errors} failed); log {log.name}")
    for exc in failures[:3]:
        print("client failure:", repr(exc), file=sys.stderr)
    os.unlink(log.name)
    if args.serve is None and (status != 0 or counters.bytes != sent[0]
                               or counters.fsync_errors or not counters.fsyncs):
        return 1
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
