"""Multi-core benchmarks: the Scheduler against plain threads and one-loop-per-thread asyncio.

Five workloads, each run under several *variants* (the rows of its table)
rather than under the loops of ``--loops``:

- ``multicore-cpu``: TASKS coroutines of about 100 µs of pure-Python work,
  all spawned unhinted from thread 0 (``aioloop.spawn`` inside
  ``aioloop.run(main(), threads=k)``), for k = 1 .. cpu_count + 1; beside
  k plain ``threading.Thread`` workers sharing the same work statically.  The
  figure is the speed-up over k = 1 of the same variant in the same process;
  the ratio is aioloop's speed-up over the plain threads' (the most a Python
  program can get from k threads of this interpreter: 1 with the GIL).
  ``multicore-cpu-coarse`` does the same with 8 tasks per CPU of ~25 ms each,
  where how evenly a burst spreads over the threads decides the speed-up.
- ``multicore-roundtrip``: ``await aioloop.spawn(noop(), hint=1)`` from
  thread 0 of a 2-thread scheduler, timed one by one; beside
  ``asyncio.wrap_future(asyncio.run_coroutine_threadsafe(noop(), other))``
  between two loops of stock asyncio (uvloop, rloop when installed) in two
  threads, and a C floor: two pthreads ping-ponging through an eventfd each,
  sleeping in epoll_wait (csrc/eventfd_pingpong.c).
- ``multicore-sched``: M plain threads calling ``s.sched(hit)`` as fast as
  they can into a 2-thread scheduler, until every callback ran; beside M
  threads calling ``loop.call_soon_threadsafe(hit)`` on one asyncio (uvloop,
  rloop) loop.
- ``multicore-tasklock``: two tasks pinned to dispatch threads 0 and 1 taking
  one ``TaskLock`` in turn (``async with lock``, holding it across an
  ``await asyncio.sleep(0)``, so the other is always queued: every
  acquisition is a cross-thread hand-off once both run; the figure is
  hand-offs per second, with the share of acquisitions that changed owner);
  beside ``asyncio.Lock`` between
  two tasks of one loop, the same way, and a ``threading.Lock`` taken by work
  that two asyncio loops in two threads re-post to themselves with
  ``call_soon_threadsafe``.
- ``multicore-barrier``: N tasks spread over 2 dispatch threads, each
  ``await barrier.arrive()`` on one threshold ``TaskBarrier(N)``, R trips;
  beside ``asyncio.Barrier(N)`` with N tasks on one loop and
  ``threading.Barrier(N)`` with N threads.

Each cell is one variant in a process of its own (``worker.py multicore``),
so rounds interleave the variants as they interleave loops elsewhere.  Every
result carries ``gil_enabled`` (``sys._is_gil_enabled()`` after the
variant's imports; 1 where that function does not exist): on a free-threaded
build a C extension that is not marked free-threading-safe turns the GIL
back on when it is imported, unless ``PYTHON_GIL=0``.
"""

import asyncio
import importlib.util
import os
import sys
import threading
import time

from . import cbuild
from .model import CellError, LoopSpec, Workload
from .proc import run_json, worker_argv

# The generic table's figure for each workload, and what the ratio is to.
SPECS = {
    "cpu": {"primary": "speedup", "higher_is_better": True, "baseline": "threads",
            "columns": ("speedup", "seconds")},
    "roundtrip": {"primary": "p50_us", "higher_is_better": False, "baseline": "asyncio",
                  "columns": ("p50_us", "p99_us", "ops_per_s")},
    "sched": {"primary": "ops_per_s", "higher_is_better": True, "baseline": "asyncio",
              "columns": ("ops_per_s", "seconds")},
    "tasklock": {"primary": "handoffs_per_s", "higher_is_better": True, "baseline": "asyncio",
                 "columns": ("handoffs_per_s", "ops_per_s", "handoff_pct")},
    "barrier": {"primary": "ops_per_s", "higher_is_better": True, "baseline": "asyncio",
                "columns": ("ops_per_s", "seconds")},
    "echo": {"primary": "req_per_s", "higher_is_better": True, "baseline": "asyncio k=1",
             "columns": ("req_per_s", "cpu_us_per_req", "p50_us", "p99_us")},
}
# Module defaults for code that reads a suite's constants; spec() is per workload.
PRIMARY = "ops_per_s"
HIGHER_IS_BETTER = True
COLUMNS = ("ops_per_s",)

C_FLOOR = "c-eventfd"
OPTIONAL_LOOPS = {"uvloop": "uvloop:new_event_loop", "rloop": "rloop:new_event_loop"}

# What each variant is, for the report's legend.
VARIANTS = {
    "aioloop": "aioloop Scheduler",
    "threads": "plain threading.Thread workers, the work split evenly",
    "asyncio": "stock asyncio (one loop per thread where two threads take part)",
    "uvloop": "uvloop, one loop per thread",
    "rloop": "rloop, one loop per thread",
    C_FLOOR: "C: two pthreads, an eventfd and an epoll set each (the floor)",
    "aioloop-threadsafe": "aioloop Scheduler, loops[1].call_soon_threadsafe: its inbox without s.sched",
    "threading.Lock": "threading.Lock, work re-posted with call_soon_threadsafe on 2 asyncio loops",
    "threading.Barrier": "threading.Barrier, one plain thread per party",
    "asyncio k=1": "echo server: stock asyncio, one loop",
    "asyncio k=2": "echo server: stock asyncio, a loop per thread, SO_REUSEPORT",
    "aioloop k=1": "echo server: aioloop.run(main(), threads=1), a plain Loop",
    "aioloop k=2": "echo server: Scheduler(threads=2).create_server, a listener per dispatch thread",
    "uvloop k=1": "echo server: uvloop, one loop",
    "uvloop k=2": "echo server: uvloop, a loop per thread, SO_REUSEPORT",
}
ECHO_KS = (1, 2)

TITLES = {
    "cpu": "CPU-bound scaling: {tasks} tasks of ~100 µs, speed-up at k={kmain} threads",
    "cpu-coarse": "CPU-bound scaling, coarse: {tasks} tasks of ~{work_ms:g} ms, speed-up at k={kmain} threads",
    "roundtrip": "cross-thread round trip, thread 0 -> 1 -> 0, {n} timed",
    "sched": "cross-thread sched: {producers} threads submit {total} callbacks",
    "tasklock": "contended lock between 2 threads, {n} acquisitions each: hand-offs/s",
    "barrier": "barrier trips: {parties} parties x {rounds} trips",
    "echo": "sharded echo, 1 KiB and ~{work_us} µs of Python per request, {connections} connections",
}

FULL = {
    "cpu": {"tasks": 10_000},
    "roundtrip": {"n": 20_000},
    "sched": {"total": 400_000, "producers": 2},
    "tasklock": {"n": 20_000},
    "barrier": {"parties": 4, "rounds": 5_000},
    "echo": {"connections": 20, "size": 1024, "work_us": 20},
}
QUICK = {
    "cpu": {"tasks": 1_000},
    "roundtrip": {"n": 2_000},
    "sched": {"total": 50_000, "producers": 2},
    "tasklock": {"n": 2_000},
    "barrier": {"parties": 4, "rounds": 500},
}  # no sharded echo in --quick: its cells take seconds each


def thread_counts(cpus=None):
    """k = 1 .. cpu_count, and one more to show what oversubscription does."""
    cpus = cpus or os.cpu_count() or 1
    return list(range(1, cpus + 2))


def main_k(cpus=None):
    """The k the generic table's speed-up is read at: every CPU busy."""
    return max(1, cpus or os.cpu_count() or 1)


def _have(module):
    return importlib.util.find_spec(module) is not None


def variant_names(bench):
    """The variants of one workload on this machine, baseline first."""
    loops = [n for n in OPTIONAL_LOOPS if _have(n)]
    if bench == "cpu":
        return ["threads", "aioloop"]
    if bench == "roundtrip":
        return ["asyncio", "aioloop", *loops, *([C_FLOOR] if cbuild.find_compiler() else [])]
    if bench == "sched":
        return ["asyncio", "aioloop", "aioloop-threadsafe", *loops]
    if bench == "tasklock":
        return ["asyncio", "aioloop", "threading.Lock"]
    if bench == "barrier":
        return ["asyncio", "aioloop", "threading.Barrier"]
    if bench == "echo":
        return [f"{name} k={k}" for name in ("asyncio", "aioloop", *loops[:1]) for k in ECHO_KS]
    raise ValueError(bench)


def workloads(quick=False):
    """The multicore workloads in table order (smaller sizes when quick)."""
    sizes = QUICK if quick else FULL
    out = []
    for bench in SPECS:
        if bench not in sizes:
            continue
        params = dict(sizes[bench], bench=bench, variants=variant_names(bench))
        if bench == "cpu":
            params.update(ks=thread_counts(), kmain=main_k())
        out.append(Workload(id=f"multicore-{bench}", suite="multicore",
                            title=TITLES[bench].format(**params), params=params))
        if bench == "cpu":
            # Few long tasks: how evenly does a burst spread when each task is worth
            # stealing? (Stealing takes only work that has not started.)
            coarse = dict(params, tasks=8 * main_k(), work_us=(10_000 if quick else 25_000))
            out.append(Workload(id="multicore-cpu-coarse", suite="multicore",
                                title=TITLES["cpu-coarse"].format(work_ms=coarse["work_us"] / 1000, **coarse),
                                params=coarse))
    return out


def spec(workload):
    """primary metric, its direction, the baseline variant and the columns of a workload."""
    return SPECS[workload.params["bench"]]


def variants(workload, loop_specs):
    """The rows of a workload: its variants, as LoopSpecs named after them.  uvloop's
    rows follow --loops (it is there by default when installed); rloop, not a loop of
    the other suites, has rows whenever it is installed."""
    chosen = {lp.name for lp in loop_specs}
    return [LoopSpec(name, f"multicore:{name}") for name in workload.params["variants"]
            if name.partition(" ")[0] != "uvloop" or "uvloop" in chosen]


def estimate_seconds(workload, settings=None):
    bench = workload.params["bench"]
    if bench == "echo":
        return 1.0 + (settings.warmup + settings.duration if settings else 2.5)
    return 2.0 if bench != "cpu" else 1.0 + 0.5 * len(workload.params["ks"])


# --- the work ------------------------------------------------------------------------------------

def work(iters):
    """Pure-Python work: no allocation in the loop, no shared object touched."""
    x = 0
    for i in range(iters):
        x += i * i
    return x


_rate = None  # iterations of work() per second on one thread, measured once per bench run


def calibrate(target_s=100e-6):
    """Iterations of work() that take about target_s on one thread of this interpreter
    (from the fastest of a few tries, measured once per bench run in the bench process)."""
    global _rate
    if _rate is None:
        probe = 2000
        _rate = probe / min(_time_once(probe) for _ in range(20))
    return max(10, int(_rate * target_s))


def _time_once(iters):
    t0 = time.perf_counter()
    work(iters)
    return time.perf_counter() - t0


async def noop():
    return None


def _percentiles(lat_ns):
    lat_ns.sort()
    n = len(lat_ns)
    return lat_ns[n // 2] / 1e3, lat_ns[(n * 99) // 100] / 1e3


# --- CPU-bound scaling ---------------------------------------------------------------------------

def cpu_aioloop(tasks, iters, ks):
    import aioloop

    async def job():
        return work(iters)

    async def main(count):
        spawn = aioloop.spawn
        t0 = time.perf_counter()
        spawned = [spawn(job()) for _ in range(count)]
        for sp in spawned:
            await sp
        return time.perf_counter() - t0

    aioloop.run(main(max(1, tasks // 10)), threads=max(ks))  # warm-up
    return {k: aioloop.run(main(tasks), threads=k) for k in ks}


def cpu_threads(tasks, iters, ks):
    def worker(count):
        for _ in range(count):
            work(iters)

    def once(k, count):
        shares = [count // k + (i < count % k) for i in range(k)]
        threads = [threading.Thread(target=worker, args=(m,)) for m in shares]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - t0

    once(max(ks), max(1, tasks // 10))  # warm-up
    return {k: once(k, tasks) for k in ks}


def bench_cpu(variant, tasks, iters, ks, kmain, work_us=100, **_):
    fn = {"aioloop": cpu_aioloop, "threads": cpu_threads}[variant]
    seconds = fn(tasks, iters, ks)
    base = seconds[1]
    out = {"seconds": base, "iters": iters}
    for k in ks:
        out[f"seconds_k{k}"] = seconds[k]
        out[f"speedup_k{k}"] = base / seconds[k]
    out["speedup"] = out[f"speedup_k{kmain}"]
    return out


# --- cross-thread round trip ---------------------------------------------------------------------

def roundtrip_aioloop(n):
    import aioloop

    async def main():
        spawn = aioloop.spawn
        clock = time.perf_counter_ns
        for _ in range(max(1, n // 10)):
            await spawn(noop(), hint=1)
        lat = []
        t0 = time.perf_counter()
        for _ in range(n):
            s = clock()
            await spawn(noop(), hint=1)
            lat.append(clock() - s)
        return time.perf_counter() - t0, lat

    return aioloop.run(main(), threads=2)


class _LoopThread:
    """A loop made by `factory`, running forever in a thread of its own until stop()."""

    def __init__(self, factory):
        self.loop = factory()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(ready.set)
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="bench-loop", daemon=True)
        self.thread.start()
        if not ready.wait(30):
            raise RuntimeError("the second loop did not start within 30 s")

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        if not self.thread.is_alive():
            self.loop.close()


def _on_own_loop(factory, coro_fn):
    """Run coro_fn() to completion on a new loop from `factory` in this thread."""
    loop = factory()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro_fn(loop))
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def roundtrip_loops(factory, n):
    other = _LoopThread(factory)

    async def main(loop):
        target = other.loop
        rcts, wrap = asyncio.run_coroutine_threadsafe, asyncio.wrap_future
        clock = time.perf_counter_ns
        for _ in range(max(1, n // 10)):
            await wrap(rcts(noop(), target))
        lat = []
        t0 = time.perf_counter()
        for _ in range(n):
            s = clock()
            await wrap(rcts(noop(), target))
            lat.append(clock() - s)
        return time.perf_counter() - t0, lat

    try:
        return _on_own_loop(factory, main)
    finally:
        other.stop()


def bench_roundtrip(variant, n, pingpong=None, **_):
    if variant == C_FLOOR:
        import subprocess
        if not pingpong:
            raise RuntimeError("the C ping-pong is not built")
        proc = subprocess.run([pingpong, str(n), str(max(1, n // 10))], capture_output=True,
                              text=True, timeout=120)
        import json
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        if "error" in r:
            raise RuntimeError(r["error"])
        return {"p50_us": r["p50_us"], "p99_us": r["p99_us"], "ops_per_s": n / r["seconds"],
                "seconds": r["seconds"]}
    if variant == "aioloop":
        seconds, lat = roundtrip_aioloop(n)
    else:
        seconds, lat = roundtrip_loops(_factory(variant), n)
    p50, p99 = _percentiles(lat)
    return {"p50_us": p50, "p99_us": p99, "ops_per_s": n / seconds, "seconds": seconds}


def _factory(variant):
    from .loops import load_factory
    return load_factory({"asyncio": "asyncio:new_event_loop", **OPTIONAL_LOOPS}[variant])


# --- cross-thread sched throughput ---------------------------------------------------------------

class _Counter:
    """Callbacks counted per running thread, so that no counter is shared between threads."""

    def __init__(self):
        self.cells = []
        self.local = threading.local()
        local, cells = self.local, self.cells

        def hit():
            try:
                local.cell[0] += 1
            except AttributeError:
                local.cell = [1]
                cells.append(local.cell)

        self.hit = hit

    def total(self):
        return sum(c[0] for c in list(self.cells))


async def _flood(submit, counter, total, producers, timeout=60.0):
    """Start `producers` threads calling submit(counter.hit) total/producers times each;
    return the seconds until every callback ran."""
    hit = counter.hit

    def produce(m):
        for _ in range(m):
            submit(hit)

    shares = [total // producers + (i < total % producers) for i in range(producers)]
    threads = [threading.Thread(target=produce, args=(m,)) for m in shares]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    deadline = t0 + timeout
    while counter.total() < total:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{counter.total()} of {total} callbacks ran within {timeout:g} s")
        await asyncio.sleep(0.0005)
    dt = time.perf_counter() - t0
    for t in threads:
        t.join()
    return dt


def bench_sched(variant, total, producers, **_):
    counter = _Counter()
    warm = max(1, total // 10)
    if variant == "aioloop":
        import aioloop

        async def main():
            s = aioloop.current_scheduler()
            await _flood(s.sched, _Counter(), warm, producers)
            return await _flood(s.sched, counter, total, producers)

        seconds = aioloop.run(main(), threads=2)
    elif variant == "aioloop-threadsafe":
        # The same scheduler, its inbox reached directly: what s.sched adds on top of it.
        import aioloop

        async def main():
            post = aioloop.current_scheduler().loops[1].call_soon_threadsafe
            await _flood(post, _Counter(), warm, producers)
            return await _flood(post, counter, total, producers)

        seconds = aioloop.run(main(), threads=2)
    else:
        async def main(loop):
            await _flood(loop.call_soon_threadsafe, _Counter(), warm, producers)
            return await _flood(loop.call_soon_threadsafe, counter, total, producers)

        seconds = _on_own_loop(_factory(variant), main)
    return {"ops_per_s": total / seconds, "seconds": seconds}


# --- contended lock ------------------------------------------------------------------------------

async def _locker(lock, n, me, state, start=None):
    # state: [owner of the last acquisition, hand-offs, acquisitions]
    sleep = asyncio.sleep
    if start is not None:
        await start.arrive()
    for _ in range(n):
        async with lock:
            if state[0] != me:
                state[0] = me
                state[1] += 1
            state[2] += 1
            await sleep(0)


def bench_tasklock(variant, n, **_):
    state = [None, 0, 0]
    if variant == "aioloop":
        import aioloop

        async def main():
            lock = aioloop.TaskLock()
            start = aioloop.TaskBarrier(2)  # both take part from the first acquisition
            t0 = time.perf_counter()
            a = aioloop.spawn(_locker(lock, n, 0, state, start), hint=0)
            b = aioloop.spawn(_locker(lock, n, 1, state, start), hint=1)
            await a
            await b
            return time.perf_counter() - t0

        seconds = aioloop.run(main(), threads=2)
    elif variant == "asyncio":
        async def main(loop):
            lock = asyncio.Lock()
            t0 = time.perf_counter()
            await asyncio.gather(_locker(lock, n, 0, state), _locker(lock, n, 1, state))
            return time.perf_counter() - t0

        seconds = _on_own_loop(asyncio.new_event_loop, main)
    elif variant == "threading.Lock":
        seconds = _threading_lock(n, state)
    else:
        raise ValueError(variant)
    if state[2] != 2 * n:
        raise RuntimeError(f"{state[2]} acquisitions counted, {2 * n} expected")
    return {"handoffs_per_s": state[1] / seconds, "ops_per_s": state[2] / seconds,
            "handoff_pct": 100.0 * state[1] / state[2], "seconds": seconds}


def _threading_lock(n, state):
    """Two asyncio loops in two threads; each runs work that takes a threading.Lock and
    re-posts itself with call_soon_threadsafe until it has run n times."""
    tlock = threading.Lock()
    sides = [_LoopThread(asyncio.new_event_loop) for _ in range(2)]
    done = threading.Semaphore(0)
    try:
        def make(loop, me):
            left = [n]

            def step():
                with tlock:
                    if state[0] != me:
                        state[0] = me
                        state[1] += 1
                    state[2] += 1
                left[0] -= 1
                if left[0]:
                    loop.call_soon_threadsafe(step)
                else:
                    done.release()
            return step

        steps = [make(side.loop, i) for i, side in enumerate(sides)]
        t0 = time.perf_counter()
        for side, step in zip(sides, steps):
            side.loop.call_soon_threadsafe(step)
        for _ in sides:
            if not done.acquire(timeout=120):
                raise RuntimeError("threading.Lock workers did not finish within 120 s")
        return time.perf_counter() - t0
    finally:
        for side in sides:
            side.stop()


# --- barrier -------------------------------------------------------------------------------------

def bench_barrier(variant, parties, rounds, **_):
    if variant == "aioloop":
        import aioloop

        def tripped():
            pass

        async def party(b):
            for _ in range(rounds):
                await b.arrive()

        async def main():
            b = aioloop.TaskBarrier(parties, tripped, total=aioloop.TaskBarrier.INFTY)
            t0 = time.perf_counter()
            ps = [aioloop.spawn(party(b), hint=i % 2) for i in range(parties)]
            for p in ps:
                await p
            return time.perf_counter() - t0, b.trips

        seconds, trips = aioloop.run(main(), threads=2)
    elif variant == "asyncio":
        async def party(b):
            for _ in range(rounds):
                await b.wait()

        async def main(loop):
            b = asyncio.Barrier(parties)
            t0 = time.perf_counter()
            await asyncio.gather(*(party(b) for _ in range(parties)))
            return time.perf_counter() - t0, rounds

        seconds, trips = _on_own_loop(asyncio.new_event_loop, main)
    elif variant == "threading.Barrier":
        b = threading.Barrier(parties)

        def party():
            for _ in range(rounds):
                b.wait(timeout=60)

        threads = [threading.Thread(target=party) for _ in range(parties)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds, trips = time.perf_counter() - t0, rounds
    else:
        raise ValueError(variant)
    if trips != rounds:
        raise RuntimeError(f"{trips} trips, {rounds} expected")
    return {"ops_per_s": trips / seconds, "seconds": seconds}


# --- sharded echo ----------------------------------------------------------------------------------

HOST = "127.0.0.1"


class _EchoWork(asyncio.Protocol):
    """Echo every chunk after `iters` iterations of work(): a CPU-heavy handler."""

    iters = 0

    def connection_made(self, transport):
        self.transport = transport
        from .worker import set_nodelay
        set_nodelay(transport.get_extra_info("socket"))

    def data_received(self, data):
        if self.iters:
            work(self.iters)
        self.transport.write(data)


def serve_echo(variant, iters, **_):
    """Worker side: serve echo on 127.0.0.1 under `variant` ("NAME k=K"), print
    {"ready": PORT, "pid": PID}, then serve until killed."""
    from .worker import emit
    name, _, k = variant.partition(" k=")
    k = int(k)
    _EchoWork.iters = iters
    if name == "aioloop":
        import aioloop

        async def main():
            s = aioloop.current_scheduler()
            if s is not None:
                srv = await s.create_server(_EchoWork, HOST, 0, backlog=1024)
            else:
                srv = await asyncio.get_running_loop().create_server(_EchoWork, HOST, 0, backlog=1024)
            emit({"ready": srv.sockets[0].getsockname()[1], "pid": os.getpid(),
                  "gil_enabled": gil_enabled()})
            await asyncio.Event().wait()

        aioloop.run(main(), threads=k)
        return
    factory = _factory(name)
    port = 0
    for i in range(k):
        started, box = threading.Event(), {}

        def run(port=port, started=started, box=box):
            loop = factory()
            asyncio.set_event_loop(loop)
            try:
                srv = loop.run_until_complete(loop.create_server(
                    _EchoWork, HOST, port, backlog=1024, reuse_port=True))
                box["port"] = srv.sockets[0].getsockname()[1]
            except Exception as e:
                box["error"] = e
            started.set()
            if "port" in box:
                loop.run_forever()

        threading.Thread(target=run, daemon=True, name=f"echo-{i}").start()
        if not started.wait(30) or "error" in box:
            raise RuntimeError(f"loop {i} did not start: {box.get('error')!r}")
        port = box["port"]
    emit({"ready": port, "pid": os.getpid(), "gil_enabled": gil_enabled()})
    threading.Event().wait()


def measure_echo(workload, loop, settings):
    """Driver side: the server in a child, the echo load client against it (neither
    pinned: the server's threads need every CPU)."""
    from .echo import client_argv, client_metrics
    from .proc import Child
    params = dict(workload.params, iters=calibrate(workload.params["work_us"] * 1e-6))
    argv = worker_argv("multicore", variant=loop.name, params=params, serve=True)
    with Child(argv, what="server") as server:
        ready = server.read_json(settings.start_timeout)
        client_settings = type(settings)(**{**vars(settings), "connections": params["connections"]})
        try:
            result = run_json(client_argv(client_settings, ready["ready"], params["size"], ready["pid"]),
                              timeout=settings.warmup + settings.duration + 30, what="load client")
        except CellError as e:
            tail = server.stderr_tail()
            raise CellError(f"{e}" + (f" [server: {tail}]" if tail else "")) from None
        server.check_alive()
    metrics = client_metrics(result)
    metrics["gil_enabled"] = ready.get("gil_enabled", 1)
    return metrics


BENCHES = {"cpu": bench_cpu, "roundtrip": bench_roundtrip, "sched": bench_sched,
           "tasklock": bench_tasklock, "barrier": bench_barrier}


def gil_enabled():
    fn = getattr(sys, "_is_gil_enabled", None)
    return 1 if fn is None or fn() else 0


def run_in_worker(spec):
    """Worker side: one variant of one workload; returns its metrics (a server
    variant serves instead, until killed, and returns None)."""
    params = dict(spec["params"])
    bench = params.pop("bench")
    params.pop("variants", None)
    variant = spec["variant"]
    if spec.get("serve"):
        serve_echo(variant, **params)
        return None
    if variant in OPTIONAL_LOOPS or variant == "asyncio":
        _factory(variant)  # import the peer first: its import may turn the GIL back on
    if variant == "aioloop":
        import aioloop  # noqa: F401
    metrics = BENCHES[bench](variant, **params)
    metrics["gil_enabled"] = gil_enabled()
    return metrics


# --- driver side ---------------------------------------------------------------------------------

def measure(workload, loop, settings):
    """Run one cell (one variant of one workload) in a worker process."""
    params = dict(workload.params)
    if params["bench"] == "echo":
        return measure_echo(workload, loop, settings)
    if params["bench"] == "cpu":
        params["iters"] = calibrate(params.get("work_us", 100) * 1e-6)
    if loop.name == C_FLOOR:
        if not settings.pingpong:
            raise CellError("the C ping-pong cannot be built here", fatal=True)
        params["pingpong"] = settings.pingpong
    result = run_json(worker_argv("multicore", variant=loop.name, params=params),
                      timeout=settings.micro_timeout, what="benchmark")
    return result
