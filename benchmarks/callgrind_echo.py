#!/usr/bin/env python3
"""Instructions per echo round trip, counted by callgrind, per loop and server style.

    python benchmarks/callgrind_echo.py                       # every loop, every server style
    python benchmarks/callgrind_echo.py --loops aioloop --kinds protocol --top 15
    python benchmarks/callgrind_echo.py --loops 'old=aioloop:new_event_loop@/path/to/venv/bin/python'

Each cell runs an echo server under ``valgrind --tool=callgrind`` and drives it
from this process (not under valgrind) with a fixed number of request/response
round trips on one connection: send SIZE bytes, read them all back, again.  It
does that twice, with N and with 2N round trips, and reports

    Ir per round trip = (Ir(2N) - Ir(N)) / N

so that everything both runs share (interpreter start-up, imports, creating
the loop and the server, accepting the connection, the exit) cancels and only
the steady state is left.  Ir is instructions executed in user space: callgrind
does not see the kernel, so the system calls' own work (recv, send, epoll_wait
in the kernel) is not in the figure; what is in it is everything the loop, the
interpreter and libc do around them.

Before each request the client waits until the server's main thread sleeps in
epoll_wait (read from /proc/PID/stat and /proc/PID/wchan), so every round trip
starts from an idle server, goes through one wake-up, and the count does not
depend on how fast valgrind happens to run: a request that arrived early would
otherwise be picked up without an epoll_wait, and the figure would drift with
the machine's load.

What is left to chance is the heap.  A 1 KiB bytes object is too big for
Python's own allocator, so every read calls libc malloc, and how many
instructions malloc and free take depends on where earlier allocations left
free chunks: anything that changes start-up (the hash seed, the length of this
file) moves the figure of a malloc-heavy cell by a few per cent.  So each cell
is counted under L heap layouts (layout i: PYTHONHASHSEED=i and 3i blocks
taken from malloc and kept before the loop starts), and the figure is the
median over them, shown with the minimum and maximum when they differ.  For a
given layout the count repeats exactly.

The servers are defined in this file, mirroring aioloop/bench/echo.py, and the
server process imports nothing but the loop's module, so the same server code
runs on any build of aioloop (``NAME=MODULE:FACTORY@PYTHON`` picks the
interpreter, hence the virtualenv and the build).  ``c-epoll`` is the C
reference server of the benchmark suite (aioloop/bench/csrc/ref_server.c,
compiled by aioloop/bench/cbuild.py), protocol style only.

``--top K`` lists, per cell, the K functions with the largest self cost per
round trip (the same difference of the two runs, function by function, from
callgrind_annotate, for the median layout) and the split by shared object
(interpreter, extension module, libc).  Needs valgrind (callgrind_annotate comes with it) and Linux.
"""

import argparse
import asyncio
import datetime
import importlib.util
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READ_SIZE = 256 * 1024

KINDS = {
    "protocol": "protocol echo",
    "streams": "streams echo",
    "sock": "sock_recv/sock_sendall echo",
}
NAMED_LOOPS = {
    "asyncio": "asyncio:new_event_loop",
    "aioloop": "aioloop:new_event_loop",
    "uvloop": "uvloop:new_event_loop",
}
C_REF = "c-epoll"
DEFAULT_LOOPS = "asyncio,aioloop,uvloop,c-epoll"

# x86-64 and generic: the names /proc/PID/wchan shows for a task asleep in epoll_wait
EPOLL_WCHAN = ("do_epoll_wait", "ep_poll")


# --- server side: runs under valgrind, with the interpreter of the loop being measured ---

def set_nodelay(sock):
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        set_nodelay(transport.get_extra_info("socket"))

    def data_received(self, data):
        self.transport.write(data)


async def serve_protocol(loop):
    server = await loop.create_server(EchoProtocol, HOST, 0, backlog=16)
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
    finally:
        writer.close()


async def serve_streams(loop):
    server = await asyncio.start_server(_echo_stream, HOST, 0, backlog=16)
    return server.sockets[0].getsockname()[1]


_tasks = set()  # the loop keeps only weak references to tasks


async def serve_sock(loop):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, 0))
    listener.listen(16)
    listener.setblocking(False)

    async def echo(conn):
        try:
            while True:
                data = await loop.sock_recv(conn, READ_SIZE)
                if not data:
                    break
                await loop.sock_sendall(conn, data)
        except ConnectionError:
            pass
        finally:
            conn.close()

    async def accept():
        while True:
            conn, _ = await loop.sock_accept(listener)
            conn.setblocking(False)
            set_nodelay(conn)
            task = loop.create_task(echo(conn))
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)

    _tasks.add(loop.create_task(accept()))
    return listener.getsockname()[1]


SERVERS = {"protocol": serve_protocol, "streams": serve_streams, "sock": serve_sock}


_ballast = []


def serve(kind, factory, layout=0):
    """Start the KIND echo server on a loop from FACTORY ("module:function"), say
    {"ready": PORT, "pid": PID, "module": FILE} on stdout, serve until killed.
    LAYOUT > 0 first takes a few blocks from libc malloc and keeps them, which moves
    where the server's own allocations land (see --layouts)."""
    _ballast.extend(bytearray(600 + 97 * i) for i in range(3 * layout))
    module_name, _, func = factory.partition(":")
    module = importlib.import_module(module_name)
    loop = getattr(module, func)()
    asyncio.set_event_loop(loop)
    port = loop.run_until_complete(SERVERS[kind](loop))
    print(json.dumps({"ready": port, "pid": os.getpid(), "module": getattr(module, "__file__", None),
                      "version": getattr(module, "__version__", None)}), flush=True)
    loop.run_forever()


# --- driver side: this process, not under valgrind ---

class Failure(Exception):
    """A cell could not be counted; the message says why."""


class LoopSpec:
    """A column: a loop factory and the interpreter that imports it, or the C server."""

    def __init__(self, text):
        name, eq, rest = text.partition("=")
        if not eq:
            name, rest = text, NAMED_LOOPS.get(text, text if text == C_REF else "")
            if not rest:
                raise ValueError(f"unknown loop {text!r}: use {', '.join([*NAMED_LOOPS, C_REF])} "
                                 "or NAME=MODULE:FACTORY[@PYTHON]")
        factory, _, python = rest.partition("@")
        if factory != C_REF and ":" not in factory:
            raise ValueError(f"{text!r}: the factory must be MODULE:FUNCTION")
        self.name, self.factory, self.python = name, factory, python or sys.executable
        self.native = factory == C_REF


def ref_server():
    """The C reference server, built by the benchmark suite's own cbuild.py (loaded by
    path: it needs only the standard library, not a built aioloop)."""
    spec = importlib.util.spec_from_file_location("_cbuild", ROOT / "aioloop" / "bench" / "cbuild.py")
    cbuild = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cbuild)
    return str(cbuild.build("ref_server"))


def server_idle(pid):
    """True when the server's main thread is asleep in epoll_wait."""
    with open(f"/proc/{pid}/stat") as f:
        state = f.read().rpartition(")")[2].split()[0]
    if state != "S":
        return False
    with open(f"/proc/{pid}/wchan") as f:
        return f.read().strip() in EPOLL_WCHAN


def wait_idle(pid, proc, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not server_idle(pid):
        if proc.poll() is not None:
            raise Failure(f"the server exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise Failure(f"the server did not go back to epoll_wait within {timeout:g} s")
        time.sleep(0.0001)


def read_ready(proc, timeout=300.0):
    """The server's {"ready": ...} line (valgrind start-up is slow)."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise Failure(f"no ready line from the server within {timeout:g} s")
    line = proc.stdout.readline()
    try:
        return json.loads(line)
    except ValueError:
        raise Failure(f"the server said {line!r} instead of its ready line") from None


def drive(port, pid, proc, round_trips, size):
    """round_trips request/response exchanges of size bytes on one connection, each
    starting from an idle server; the response must be the request."""
    payload = bytes(ord("a") + i % 26 for i in range(size))
    buf = bytearray(size)
    view = memoryview(buf)
    with socket.create_connection((HOST, port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(round_trips):
            wait_idle(pid, proc)
            s.sendall(payload)
            got = 0
            while got < size:
                n = s.recv_into(view[got:])
                if n == 0:
                    raise Failure("the server closed the connection")
                got += n
            if buf != payload:
                raise Failure("the server answered something else than the request")
    # the server has seen the end of the connection and gone back to sleep: what
    # is left (SIGTERM, callgrind's dump) is the same in both runs
    wait_idle(pid, proc)


def warm(spec):
    """Import the loop's module once outside valgrind, so that both counted runs find
    the same compiled .pyc files: a run that compiles them starts from another heap
    and its malloc calls take other paths (a few per cent of a round trip)."""
    if spec.native:
        return
    proc = subprocess.run([spec.python, os.path.abspath(__file__), "--warm", spec.factory],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise Failure(f"{spec.factory} does not load: {proc.stderr.strip()[-300:]}")


def count(spec, kind, round_trips, size, workdir, ref, layout):
    """Run one server under callgrind for round_trips round trips; return the
    path of its callgrind output, and the server's ready line."""
    tag = f"{spec.name}.{kind}.L{layout}.{round_trips}"
    out, log = workdir / f"{tag}.callgrind", workdir / f"{tag}.valgrind.log"
    if spec.native:
        target = [ref, "0", "echo"]
    else:
        target = [spec.python, os.path.abspath(__file__), "--serve", kind, spec.factory, str(layout)]
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", f"--log-file={log}", *target]
    env = dict(os.environ, PYTHONHASHSEED=str(layout))
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)
    try:
        ready = read_ready(proc)
        if "ready" not in ready:
            raise Failure(f"server: {ready}")
        drive(ready["ready"], ready["pid"], proc, round_trips, size)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    except BaseException:
        proc.kill()
        proc.wait()
        tail = proc.stderr.read()[-800:].strip()
        if tail:
            print(f"[{tag}] server stderr: {tail}", file=sys.stderr)
        raise
    finally:
        proc.stdout.close()
        proc.stderr.close()
    if not out.exists():
        raise Failure(f"callgrind wrote no {out.name} (see {log})")
    return out, ready


def total_ir(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise Failure(f"no totals in {path}")


_ANNOTATE_LINE = re.compile(r"^\s*([\d,]+)\s+(\S.*?)(?:\s+\[(.+)\])?\s*$")


def function_costs(path):
    """({function: self Ir}, {function: object}) from callgrind_annotate.  Recursion
    levels (name'2) and the pieces inlined from headers (listed under the header's
    file, often without an object) are merged into their function."""
    text = subprocess.run(["callgrind_annotate", "--threshold=100", "--inclusive=no", "--auto=no",
                           "--show-percs=no", str(path)], capture_output=True, text=True, check=True).stdout
    costs, objects, table = {}, {}, False
    for line in text.splitlines():
        if line.startswith("Ir") and "file:function" in line:
            table = True
            continue
        m = _ANNOTATE_LINE.match(line) if table else None
        if not m:
            continue
        where = m.group(2)
        func = re.sub(r"'\d+$", "", where.split(":", 1)[1] if ":" in where else where)
        costs[func] = costs.get(func, 0) + int(m.group(1).replace(",", ""))
        if m.group(3) and m.group(3) != "???":
            objects.setdefault(func, os.path.basename(m.group(3)))
    return costs, objects


def demangle(name):
    """Cython's C names made readable, best effort: __pyx_f_7aioloop_5_core_9Transport__on_read
    -> aioloop._core.Transport._on_read (Cython); other names unchanged."""
    m = re.match(r"__pyx_(f|pf|pw)_(.*)$", name)
    if not m:
        return name
    kind, rest, parts = m.group(1), m.group(2), []
    while True:
        d = re.match(r"\d+", rest)
        if not d:
            break
        n, start = int(d.group()), d.end()
        tail = rest[start + n:]
        if len(rest) < start + n or not tail.startswith("_"):
            break  # not a length-prefixed part: the counter of a wrapper, then the name
        parts.append(rest[start:start + n])
        rest = tail[1:]
    if kind != "f":
        rest = re.sub(r"^\d+", "", rest)  # wrappers number their methods
    return ".".join([*parts, rest]) + "  (Cython)"


def per_round_trip(small, large, n):
    """Self cost per round trip of each function and of each object: the difference
    of the two runs divided by n."""
    (a, obj_a), (b, obj_b) = function_costs(small), function_costs(large)
    where = {**obj_a, **obj_b}
    funcs = {f: (b.get(f, 0) - a.get(f, 0)) / n for f in set(a) | set(b)}
    objects = {}
    for f, v in funcs.items():
        objects[where.get(f, "???")] = objects.get(where.get(f, "???"), 0) + v
    return funcs, objects, where


def measure(spec, kind, n, size, workdir, ref, top, layouts):
    """One cell: for each heap layout, the count per round trip from an N and a 2N
    run; the cell's figure is their median, with their minimum and maximum."""
    warm(spec)
    runs = []
    for layout in range(1 if spec.native else layouts):  # the C server mallocs nothing per request
        small, ready = count(spec, kind, n, size, workdir, ref, layout)
        large, _ = count(spec, kind, 2 * n, size, workdir, ref, layout)
        ir_small, ir_large = total_ir(small), total_ir(large)
        runs.append(((ir_large - ir_small) / n, layout, small, large))
    per_layout = [r[0] for r in runs]
    _, middle, small, large = sorted(runs)[(len(runs) - 1) // 2]
    cell = {"ir_per_round_trip": statistics.median(per_layout),
            "min": min(per_layout), "max": max(per_layout), "per_layout": per_layout,
            "module": ready.get("module"), "version": ready.get("version")}
    if top:  # from the layout whose figure is the median (the lower middle one for an even count)
        cell["top_layout"] = middle
        funcs, objects, where = per_round_trip(small, large, n)
        cell["top_functions"] = [
            {"function": f, "object": where.get(f, "???"), "ir": round(v, 1)}
            for f, v in sorted(funcs.items(), key=lambda kv: -kv[1])[:top] if v >= 0.5]
        cell["objects"] = {o: round(v, 1) for o, v in sorted(objects.items(), key=lambda kv: -kv[1]) if v >= 0.5}
    return cell


def source_of(module_file):
    """'path (commit abc1234)' for the module a server imported, when it is in a git checkout."""
    if not module_file:
        return "?"
    where = os.path.dirname(module_file)
    try:
        commit = subprocess.run(["git", "-C", where, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        commit = ""
    return f"{where}" + (f" (git {commit})" if commit else "")


def size_text(size):
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} B"


def fmt_ir(v):
    return "" if v is None else f"{v:,.0f}"


def fmt_cell(c):
    """'2,538', or '2,538 [2,531–2,549]' when the layouts disagree."""
    text = fmt_ir(c["ir_per_round_trip"])
    low, high = fmt_ir(c["min"]), fmt_ir(c["max"])
    return text if low == high else f"{text} [{low}–{high}]"


def render(result):
    meta, loops = result["meta"], result["loops"]
    lines = [f"callgrind_echo · {meta['date']} · {meta['python']} · {meta['valgrind']} · {meta['platform']}",
             f"Ir per round trip = (Ir({2 * meta['round_trips']}) - Ir({meta['round_trips']})) / "
             f"{meta['round_trips']}; {size_text(meta['size'])} requests, one connection, user-space instructions only",
             f"median [min–max] over {meta['layouts']} heap layouts (PYTHONHASHSEED and blocks malloc'd at start-up)",
             "loops:"]
    for name, info in result["loop_info"].items():
        lines.append(f"  {name:<14} {info}")
    width = max(len(KINDS[k]) for k in KINDS) + 2
    lines.append("")
    lines.append(f"{'workload':<{width}}" + "".join(f"{name:>24}" for name in loops))
    for kind, row in result["table"].items():
        cells = []
        for name in loops:
            c = row.get(name)
            cells.append("" if c is None else "FAILED" if "error" in c else fmt_cell(c))
        lines.append(f"{KINDS[kind]:<{width}}" + "".join(f"{c:>24}" for c in cells))
    for kind, row in result["table"].items():
        for name, c in row.items():
            if "top_functions" not in c:
                continue
            total = c["per_layout"][c["top_layout"]]  # layout i is the i-th run
            lines += ["", f"{KINDS[kind]} · {name}: {total:,.0f} Ir per round trip (layout {c['top_layout']}); "
                      "by object: " +
                      ", ".join(f"{o} {v / total:.0%}" for o, v in c["objects"].items() if v / total >= 0.01)]
            for f in c["top_functions"]:
                lines.append(f"  {f['ir']:>9,.0f} {f['ir'] / total:>6.1%}  {demangle(f['function'])} [{f['object']}]")
    failures = [(k, n, c["error"]) for k, row in result["table"].items() for n, c in row.items() if "error" in c]
    for kind, name, error in failures:
        lines.append(f"FAILED {KINDS[kind]} · {name}: {error}")
    return "\n".join(lines) + "\n"


def render_markdown(result):
    loops = result["loops"]
    lines = ["| workload | " + " | ".join(loops) + " |", "|---|" + "---:|" * len(loops)]
    for kind, row in result["table"].items():
        cells = []
        for name in loops:
            c = row.get(name)
            cells.append("" if c is None else "failed" if "error" in c else fmt_cell(c))
        lines.append(f"| {KINDS[kind]} {size_text(result['meta']['size'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def valgrind_version():
    try:
        return subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--loops", default=DEFAULT_LOOPS,
                   help=f"comma-separated: {', '.join(NAMED_LOOPS)}, {C_REF} (the C reference server, "
                        "protocol echo only) or NAME=MODULE:FACTORY[@PYTHON] (default: %(default)s)")
    p.add_argument("--kinds", default=",".join(KINDS), help="server styles (default: %(default)s)")
    p.add_argument("--round-trips", type=int, default=2000, metavar="N",
                   help="round trips of the shorter run; the longer does 2N (default: %(default)s)")
    p.add_argument("--size", type=int, default=1024, help="bytes per request (default: %(default)s)")
    p.add_argument("--layouts", type=int, default=5, metavar="L",
                   help="heap layouts per cell; the figure is the median over them (default: %(default)s)")
    p.add_argument("--top", type=int, default=0, metavar="K",
                   help="list the K functions with the largest self cost per round trip, per cell")
    p.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown as well")
    p.add_argument("--keep", metavar="DIR", help="keep the callgrind output files in DIR")
    p.add_argument("--serve", nargs="+", metavar="KIND FACTORY [LAYOUT]", help=argparse.SUPPRESS)
    p.add_argument("--warm", metavar="FACTORY", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        serve(args.serve[0], args.serve[1], *map(int, args.serve[2:]))
        return 0
    if args.warm:
        module_name, _, func = args.warm.partition(":")
        getattr(importlib.import_module(module_name), func)().close()
        return 0

    if shutil.which("valgrind") is None:
        p.error("valgrind is not installed")
    try:
        specs = [LoopSpec(t.strip()) for t in args.loops.split(",") if t.strip()]
    except ValueError as e:
        p.error(str(e))
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    for k in kinds:
        if k not in KINDS:
            p.error(f"unknown kind {k!r}: choose from {', '.join(KINDS)}")
    if args.round_trips < 1 or args.size < 1 or args.layouts < 1:
        p.error("--round-trips, --size and --layouts must be positive")
    ref = ref_server() if any(s.native for s in specs) else None

    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="callgrind-echo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    result = {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
            "valgrind": valgrind_version(),
            "round_trips": args.round_trips,
            "layouts": args.layouts,
            "size": args.size,
            "command": " ".join(["python", "benchmarks/callgrind_echo.py", *(argv if argv is not None else sys.argv[1:])]),
        },
        "loops": [s.name for s in specs],
        "loop_info": {},
        "table": {},
    }
    try:
        for kind in kinds:
            row = result["table"].setdefault(kind, {})
            for spec in specs:
                if spec.native and kind != "protocol":
                    continue
                t0 = time.monotonic()
                try:
                    row[spec.name] = measure(spec, kind, args.round_trips, args.size, workdir, ref,
                                             args.top, args.layouts)
                except (Failure, OSError, subprocess.SubprocessError) as e:
                    row[spec.name] = {"error": str(e)}
                c = row[spec.name]
                if spec.name not in result["loop_info"] and "error" not in c:
                    result["loop_info"][spec.name] = (
                        f"C reference server {ref}" if spec.native else
                        f"{spec.factory} {c.get('version') or ''} from {source_of(c.get('module'))}, "
                        f"python {spec.python}")
                print(f"{KINDS[kind]} · {spec.name}: "
                      f"{c.get('error') or fmt_cell(c) + ' Ir per round trip'} "
                      f"({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.write(render(result))
    if args.markdown:
        sys.stdout.write("\n" + render_markdown(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
