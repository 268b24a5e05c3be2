"""Syscalls per echo round trip on the protocol hot path, by strace -c.

    python tests/net/strace_echo.py [--loop aioloop|asyncio] [--n 20000] [--size 1024]

Runs an echo server (asyncio.Protocol) in a child process under `strace -c
-f`, and a client (same loop kind, not traced) that does N round trips of
SIZE bytes, one message in flight at a time. Does the same with N=0 and
prints the difference per round trip, so start-up and shut-down calls
(imports, mmap of modules, thread creation) cancel out. Then the same with
the client traced and the server not. Not a test: it asserts nothing and
prints a table. Needs strace.
"""

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def factory(kind):
    if kind == "aioloop":
        import aioloop
        return aioloop.new_event_loop
    return asyncio.SelectorEventLoop


def run_server(kind):
    class Echo(asyncio.Protocol):
        def connection_made(self, t):
            self.t = t

        def data_received(self, data):
            self.t.write(data)

        def connection_lost(self, exc):
            done.set_result(None)

    async def main():
        global done
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await done          # one client, then exit
        server.close()

    with asyncio.Runner(loop_factory=factory(kind)) as r:
        r.run(main())


def run_client(kind, port, n, size):
    class Pinger(asyncio.Protocol):
        def __init__(self, finished):
            self.finished = finished
            self.left = n
            self.got = 0
            self.msg = b"x" * size

        def connection_made(self, t):
            self.t = t
            if self.left:
                t.write(self.msg)
            else:
                t.close()

        def data_received(self, data):
            self.got += len(data)
            if self.got == size:
                self.got = 0
                self.left -= 1
                if self.left:
                    self.t.write(self.msg)
                else:
                    self.t.close()

        def connection_lost(self, exc):
            self.finished.set_result(exc)

    async def main():
        loop = asyncio.get_running_loop()
        finished = loop.create_future()
        await loop.create_connection(lambda: Pinger(finished), "127.0.0.1", port)
        await finished

    with asyncio.Runner(loop_factory=factory(kind)) as r:
        r.run(main())


def parse_strace(path):
    counts = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)\s*$", line)
            if m:
                if m.group(3) != "total":
                    counts[m.group(3)] = int(m.group(1))
    return counts


def measure(kind, n, size, traced):
    """strace -c counts of the traced side ('server' or 'client')."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd()] + sys.path))
    with tempfile.NamedTemporaryFile(suffix=".strace", delete=False) as tf:
        out = tf.name
    strace = ["strace", "-c", "-f", "-o", out]
    server_cmd = [sys.executable, __file__, "--role", "server", "--loop", kind]
    server = subprocess.Popen((strace if traced == "server" else []) + server_cmd,
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        port = server.stdout.readline().strip()
        client_cmd = [sys.executable, __file__, "--role", "client", "--loop", kind,
                      "--port", port, "--n", str(n), "--size", str(size)]
        subprocess.run((strace if traced == "client" else []) + client_cmd,
                       check=True, env=env, timeout=600)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    counts = parse_strace(out)
    os.unlink(out)
    return counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", choices=["server", "client", "report"], default="report")
    ap.add_argument("--loop", choices=["aioloop", "asyncio"], default="aioloop")
    ap.add_argument("--port", type=int)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--size", type=int, default=1024)
    args = ap.parse_args()
    if args.role == "server":
        return run_server(args.loop)
    if args.role == "client":
        return run_client(args.loop, args.port, args.n, args.size)
    print(f"# syscalls per {args.size}-byte echo round trip, {args.loop}, "
          f"({args.n} round trips minus 0), strace -c -f")
    for side in ("server", "client"):
        base = measure(args.loop, 0, args.size, side)
        full = measure(args.loop, args.n, args.size, side)
        names = sorted(set(base) | set(full), key=lambda k: -(full.get(k, 0) - base.get(k, 0)))
        print(f"\n{side} (traced):")
        print(f"  {'syscall':<16}{'per round trip':>16}")
        total = 0.0
        for name in names:
            per = (full.get(name, 0) - base.get(name, 0)) / args.n
            if abs(per) >= 0.001:
                total += per
                print(f"  {name:<16}{per:>16.3f}")
        print(f"  {'total':<16}{total:>16.3f}")


if __name__ == "__main__":
    main()
